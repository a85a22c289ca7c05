"""The versioned risk questionnaire: shipped as data, scored into an investor category C1..C5.

A questionnaire file (``advisory/data/questionnaire_<version>.json``) holds bilingual questions
(``en``, ``zh-CN``), each choice's score, the score thresholds of C1..C5 and the capping rules
(an answer that forces the lowest category whatever the score). The age limit is a setting, not
data: it is the bank's policy, and changing it must not need a new questionnaire version.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from finbridge.core.errors import NotFound, ValidationError

CATEGORIES = ("C1", "C2", "C3", "C4", "C5")
LANGUAGES = ("en", "zh-CN")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    en: str
    zh: str = Field(alias="zh-CN")


class Option(_Strict):
    value: str
    score: int = Field(ge=0, le=10)
    text: Text


class Band(_Strict):
    max: int
    score: int = Field(ge=0, le=10)


class Question(_Strict):
    id: str
    kind: Literal["choice", "number"]
    text: Text
    options: tuple[Option, ...] = ()
    min: int | None = None
    max: int | None = None
    bands: tuple[Band, ...] = ()

    @model_validator(mode="after")
    def _shape(self) -> Question:
        if self.kind == "choice" and len(self.options) < 2:
            raise ValueError(f"question {self.id}: a choice needs at least two options")
        if self.kind == "number" and (self.min is None or self.max is None or not self.bands):
            raise ValueError(f"question {self.id}: a number needs min, max and bands")
        return self

    def score(self, answer: object) -> int:
        """The answer's score; a missing or out-of-range answer is an error naming the question."""
        field = f"answers.{self.id}"
        if answer is None:
            raise ValidationError(f"question {self.id!r} is not answered", field=field)
        if self.kind == "choice":
            for option in self.options:
                if option.value == answer:
                    return option.score
            allowed = ", ".join(o.value for o in self.options)
            raise ValidationError(f"{answer!r} is not one of: {allowed}", field=field)
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise ValidationError("must be a whole number", field=field)
        assert self.min is not None and self.max is not None  # checked by _shape
        if not self.min <= answer <= self.max:
            raise ValidationError(f"must be between {self.min} and {self.max}", field=field)
        return next(b.score for b in self.bands if answer <= b.max)


class CategoryThreshold(_Strict):
    category: Literal["C1", "C2", "C3", "C4", "C5"]
    min_score: int = Field(ge=0)
    label: Text


class Cap(_Strict):
    question: str
    value: str
    category: Literal["C1", "C2", "C3", "C4", "C5"]
    reason: Text


class Questionnaire(_Strict):
    version: str
    title: Text
    categories: tuple[CategoryThreshold, ...]
    caps: tuple[Cap, ...]
    questions: tuple[Question, ...] = Field(min_length=15, max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> Questionnaire:
        if tuple(c.category for c in self.categories) != CATEGORIES:
            raise ValueError("categories must be C1..C5 in order")
        scores = [c.min_score for c in self.categories]
        if scores[0] != 0 or scores != sorted(set(scores)):
            raise ValueError("category thresholds must start at 0 and rise")
        ids = [q.id for q in self.questions]
        if len(set(ids)) != len(ids):
            raise ValueError("question ids must be unique")
        if "age" not in ids:
            raise ValueError("the questionnaire must ask the age (the age cap needs it)")
        for cap in self.caps:
            if cap.question not in ids:
                raise ValueError(f"cap on unknown question {cap.question}")
        return self

    @property
    def max_score(self) -> int:
        return sum(
            max(o.score for o in q.options) if q.options else max(b.score for b in q.bands)
            for q in self.questions
        )


@dataclass(frozen=True)
class Assessment:
    """A scored questionnaire: the category is the score's, lowered by any cap that applies."""

    version: str
    score: int
    max_score: int
    score_category: str
    category: str
    caps: tuple[str, ...]  # the reasons (English) of every cap applied


def assess(questionnaire: Questionnaire, answers: dict[str, object], *, max_age: int) -> Assessment:
    """Score ``answers`` and place the investor; every question must be answered, no extras."""
    if not isinstance(answers, dict):
        raise ValidationError("answers must be an object of question id -> answer", field="answers")
    known = {q.id for q in questionnaire.questions}
    extra = sorted(set(answers) - known)
    if extra:
        raise ValidationError(f"unknown question {extra[0]!r}", field=f"answers.{extra[0]}")
    score = sum(q.score(answers.get(q.id)) for q in questionnaire.questions)
    by_score = next(c.category for c in reversed(questionnaire.categories) if score >= c.min_score)
    category, reasons = by_score, []
    for cap in questionnaire.caps:
        if answers.get(cap.question) == cap.value:
            category = min(category, cap.category)
            reasons.append(cap.reason.en)
    age = answers["age"]
    assert isinstance(age, int)  # scored above
    if age > max_age:
        category = "C1"
        reasons.append(f"age over {max_age}")
    return Assessment(
        questionnaire.version, score, questionnaire.max_score, by_score, category, tuple(reasons)
    )


@cache
def shipped_versions() -> tuple[str, ...]:
    """The questionnaire versions shipped with the package, oldest first."""
    folder = resources.files("finbridge.advisory") / "data"
    names = [p.name for p in folder.iterdir() if p.name.startswith("questionnaire_")]
    return tuple(sorted(n.removeprefix("questionnaire_").removesuffix(".json") for n in names))


@cache
def load_questionnaire(version: str | None = None) -> Questionnaire:
    """A shipped questionnaire by version (the newest when ``version`` is None)."""
    versions = shipped_versions()
    chosen = version or versions[-1]
    if chosen not in versions:
        raise NotFound(f"no questionnaire version {chosen!r}", field="version")
    path = resources.files("finbridge.advisory") / "data" / f"questionnaire_{chosen}.json"
    return Questionnaire.model_validate(json.loads(path.read_text(encoding="utf-8")))
