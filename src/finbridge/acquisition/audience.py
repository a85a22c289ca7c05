"""Audience rules: a boolean expression over profile fields, checked when the campaign is saved.

The language is ``rule-engine``'s (the one risk rules use): ``news_reads > 1 and top_topic ==
"stocks"``. Names are resolved against :data:`AUDIENCE_FIELDS` with their types, so a rule that
does not parse, names an unknown field or compares a string with a number is refused at save.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import rule_engine
from rule_engine import ast

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
    # Spending RFM as of the profile's last refresh (the lake's spend rule, 90 days):
    "spend_frequency": _T.FLOAT,  # card spends in the window, all currencies
    "spend_recency_days": _T.FLOAT,  # days from the last spend to the refresh; 90: none
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

    @property
    def symbols(self) -> set[str]:
        """The fields the rule reads (so costly ones are computed only when named)."""
        found: set[str] = set()

        def walk(node: Any) -> None:
            if isinstance(node, ast.SymbolExpression):
                found.add(node.name)
            for child in ("left", "right", "expression"):
                if hasattr(node, child):
                    walk(getattr(node, child))

        walk(self._rule.statement.expression)
        return found

    def mask(self, columns: Mapping[str, np.ndarray], rows: int) -> np.ndarray:
        """The rule over whole columns at once (NumPy); rules using anything beyond symbols,
        literals, comparisons, arithmetic, and/or/not fall back to row-by-row evaluation."""
        try:
            return np.broadcast_to(
                _vector(self._rule.statement.expression, columns), (rows,)
            ).copy()
        except _Untranslatable:
            names = list(columns)
            return np.array(
                [self.matches({n: columns[n][i].item() for n in names}) for i in range(rows)],
                dtype=bool,
            )

    def matches(self, fields: Mapping[str, Any]) -> bool:
        try:
            return bool(self._rule.matches(fields))
        except rule_engine.errors.EngineError:
            return False  # a value the rule cannot compare: not in the audience


def _resolve(thing: Mapping[str, Any], name: str) -> Any:
    # Fields may be computed on first use (a balance costs a ledger read).
    value = thing[name]
    return value() if isinstance(value, Callable) else value  # type: ignore[arg-type]


class _Untranslatable(Exception):
    pass


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": np.equal, "ne": np.not_equal, "gt": np.greater, "ge": np.greater_equal,
    "lt": np.less, "le": np.less_equal,
}  # fmt: skip
_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "add": np.add, "sub": np.subtract, "mul": np.multiply, "tdiv": np.divide,
}  # fmt: skip


def _vector(node: Any, columns: Mapping[str, np.ndarray]) -> Any:
    """One rule-engine AST node as a NumPy value, with rule-engine's meaning: a comparison
    that rule-engine would refuse at run time (a missing value) is simply false here."""
    if isinstance(node, ast.SymbolExpression):
        return columns[node.name]
    if isinstance(node, ast.FloatExpression):
        return float(node.value)
    if isinstance(node, ast.StringExpression | ast.BooleanExpression):
        return node.value
    if isinstance(node, ast.LogicExpression):
        left, right = _vector(node.left, columns), _vector(node.right, columns)
        return np.logical_and(left, right) if node.type == "and" else np.logical_or(left, right)
    if isinstance(node, ast.UnaryExpression) and node.type == "not":
        return np.logical_not(_vector(node.right, columns))
    if isinstance(node, ast.ArithmeticComparisonExpression | ast.ComparisonExpression):
        op = _COMPARE.get(node.type)
        if op is not None:
            with np.errstate(invalid="ignore"):
                return op(_vector(node.left, columns), _vector(node.right, columns))
    if isinstance(node, ast.ArithmeticExpression):
        op = _ARITH.get(node.type)
        if op is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                return op(_vector(node.left, columns), _vector(node.right, columns))
    raise _Untranslatable(type(node).__name__)
