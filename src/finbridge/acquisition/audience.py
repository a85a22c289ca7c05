"""Audience rules: a boolean expression over profile fields, checked when the campaign is saved.

The language is ``rule-engine``'s (the one risk rules use): ``news_reads > 1 and top_topic ==
"stocks"``. Names are resolved against :data:`AUDIENCE_FIELDS` with their types, so a rule that
does not parse, names an unknown field or compares a string with a number is refused at save.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import rule_engine

from finbridge.core.errors import ValidationError

_T = rule_engine.DataType
AUDIENCE_FIELDS: dict[str, Any] = {
    "engagement": _T.FLOAT,  # decayed engagement, all kinds
    "news_reads": _T.FLOAT,  # decayed count of news reads
    "app_opens": _T.FLOAT,
    "notification_opens": _T.FLOAT,
    "top_topic": _T.STRING,  # "" when none
    "best_hour": _T.FLOAT,  # local hour of day with the most engagement
    "locale": _T.STRING,
    "risk_level": _T.FLOAT,  # highest suitable risk level (1..5)
    "balance": _T.FLOAT,  # total balance in the portfolio currency (0 without one)
}


class AudienceRule:
    """A parsed, type-checked rule; :meth:`matches` evaluates it on one customer's fields."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise ValidationError("the audience rule is empty", field="audience")
        if len(text) > 2000:
            raise ValidationError("the audience rule is longer than 2000", field="audience")
        self.text = text.strip()
        context = rule_engine.Context(
            type_resolver=rule_engine.type_resolver_from_dict(AUDIENCE_FIELDS),
            resolver=_resolve,
        )
        try:
            self._rule = rule_engine.Rule(self.text, context=context)
        except rule_engine.errors.SymbolResolutionError as exc:
            raise ValidationError(
                f"unknown field {exc.symbol_name!r}; known: {sorted(AUDIENCE_FIELDS)}",
                field="audience",
            ) from None
        except rule_engine.errors.EngineError as exc:
            raise ValidationError(
                f"the audience rule does not parse: {exc.message}", field="audience"
            ) from None

    def matches(self, fields: Mapping[str, Any]) -> bool:
        try:
            return bool(self._rule.matches(fields))
        except rule_engine.errors.EngineError:
            return False  # a value the rule cannot compare: not in the audience


def _resolve(thing: Mapping[str, Any], name: str) -> Any:
    # Fields may be computed on first use (a balance costs a ledger read).
    value = thing[name]
    return value() if isinstance(value, Callable) else value  # type: ignore[arg-type]
