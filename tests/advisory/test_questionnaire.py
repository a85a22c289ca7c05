"""The questionnaire: shipped data, scoring, category thresholds and caps."""

from __future__ import annotations

from typing import Any

import pytest
from tests.advisory.conftest import BALANCED

from finbridge.advisory.questionnaire import (
    CATEGORIES,
    assess,
    load_questionnaire,
    shipped_versions,
)
from finbridge.core.errors import NotFound, ValidationError

Q = load_questionnaire()


def with_(**changes: Any) -> dict[str, Any]:
    return {**BALANCED, **changes}


def test_shipped_questionnaire_is_bilingual_and_the_right_size() -> None:
    assert 15 <= len(Q.questions) <= 20
    assert Q.version in shipped_versions()
    for question in Q.questions:
        assert question.text.en and question.text.zh
        for option in question.options:
            assert option.text.en and option.text.zh
    topics = {q.id for q in Q.questions}
    assert {"age", "income", "financial_assets", "debt", "experience_years", "horizon",
            "objective", "loss_tolerance"} <= topics  # fmt: skip


def lowest() -> dict[str, Any]:
    """The lowest-scoring answer to every question that no cap catches."""
    answers: dict[str, Any] = {"age": 90}
    for q in Q.questions:
        if q.kind == "choice":
            answers[q.id] = min(q.options, key=lambda o: o.score).value
    return answers


def highest() -> dict[str, Any]:
    answers: dict[str, Any] = {"age": 25}
    for q in Q.questions:
        if q.kind == "choice":
            answers[q.id] = max(q.options, key=lambda o: o.score).value
    return answers


def test_score_decides_the_category_by_the_thresholds() -> None:
    result = assess(Q, BALANCED, max_age=70)
    assert result.score == 34
    assert result.category == result.score_category == "C3"
    top = assess(Q, highest(), max_age=70)
    assert top.score == Q.max_score == 64
    assert top.category == "C5"
    for threshold in Q.categories:
        assert (top.score >= threshold.min_score) == (threshold.category <= "C5")


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"experience_years": "none"}, "no investment experience"),
        ({"loss_tolerance": "none"}, "cannot accept any loss"),
        ({"age": 71}, "age over 70"),
    ],
)
def test_caps_force_c1_whatever_the_score(changes: dict[str, Any], reason: str) -> None:
    answers = {**highest(), **changes}
    result = assess(Q, answers, max_age=70)
    assert result.category == "C1"
    assert result.score_category in ("C4", "C5")
    assert reason in result.caps


def test_age_limit_is_a_setting() -> None:
    assert assess(Q, with_(age=75), max_age=80).category == "C3"
    assert assess(Q, with_(age=75), max_age=74).category == "C1"


@pytest.mark.parametrize(
    ("answers", "field"),
    [
        ({k: v for k, v in BALANCED.items() if k != "horizon"}, "answers.horizon"),
        (with_(horizon="forever"), "answers.horizon"),
        (with_(age=17), "answers.age"),
        (with_(age=121), "answers.age"),
        (with_(age="40"), "answers.age"),
        (with_(age=True), "answers.age"),
        (with_(shoe_size="42"), "answers.shoe_size"),
        (with_(income=None), "answers.income"),
    ],
)
def test_bad_answers_name_the_question(answers: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        assess(Q, answers, max_age=70)
    assert info.value.field == field


def test_unknown_version_is_not_found() -> None:
    with pytest.raises(NotFound, match="no questionnaire version"):
        load_questionnaire("1999-01-v0")


def test_every_category_is_reachable() -> None:
    seen = {assess(Q, lowest() | {"age": 30}, max_age=70).category}
    base = lowest() | {"age": 30, "experience_years": "under_2", "loss_tolerance": "under_5"}
    ids = [q.id for q in Q.questions if q.kind == "choice"]
    answers = dict(base)
    for qid in ids:  # raise answers one question at a time to the top option
        question = next(q for q in Q.questions if q.id == qid)
        answers[qid] = max(question.options, key=lambda o: o.score).value
        seen.add(assess(Q, answers, max_age=70).category)
    assert seen == set(CATEGORIES)
