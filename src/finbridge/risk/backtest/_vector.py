"""Rule sets over whole tables: rule-engine expressions translated to Polars expressions.

Backtests and replays evaluate a rule set over millions of events; calling the rule-engine
interpreter per row costs microseconds per rule, so the already-validated rule AST is translated
node by node into one Polars expression per rule (comparisons, arithmetic, ``and``/``or``/``not``,
symbols and literals). A node the translator does not know falls back to the interpreter for
that rule only, so results never depend on which path ran.

Division by zero follows the row-by-row semantics: a quotient with a zero divisor is null (the
rule-engine raises), nulls do not fire, and ``and`` short-circuits as in Kleene logic (``False
and null`` is ``False``), so a guarded ``n > 0 and x / n > 2`` behaves identically. One corner
differs: ``x / 0 > 1 or true`` is not fired row by row (the whole rule errors) but fired here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import rule_engine
import rule_engine.ast as ast

from finbridge.risk.rules._fast import COMPARISONS
from finbridge.risk.rules._spec import OUTCOMES, CompiledRuleSet


class Untranslatable(Exception):
    pass


def to_polars(node: Any) -> pl.Expr:
    """Translate one rule-engine AST node; raises :class:`Untranslatable` for anything else."""
    if isinstance(node, ast.SymbolExpression):
        return pl.col(node.name)
    if isinstance(node, ast.FloatExpression):
        return pl.lit(float(node.value))
    if isinstance(node, ast.BooleanExpression):
        return pl.lit(bool(node.value))
    if isinstance(node, ast.StringExpression):
        return pl.lit(str(node.value))
    if isinstance(node, ast.LogicExpression):
        left, right = to_polars(node.left), to_polars(node.right)
        return (left & right) if node.type == "and" else (left | right)
    if isinstance(node, ast.UnaryExpression):
        inner = to_polars(node.right)
        if node.type == "not":
            return ~inner
        if node.type == "uminus":
            return -inner
        raise Untranslatable(node.type)
    if isinstance(node, ast.ArithmeticExpression):
        left, right = to_polars(node.left), to_polars(node.right)
        if node.type == "add":
            return left + right
        if node.type == "sub":
            return left - right
        if node.type == "mul":
            return left * right
        if node.type == "tdiv":
            return pl.when(right != 0).then(left / right).otherwise(None)
        raise Untranslatable(node.type)
    if isinstance(node, (ast.ArithmeticComparisonExpression, ast.ComparisonExpression)):
        op = COMPARISONS.get(node.type)
        if op is None:
            raise Untranslatable(node.type)
        return op(to_polars(node.left), to_polars(node.right))  # type: ignore[no-any-return]
    raise Untranslatable(type(node).__name__)


def fired_columns(rs: CompiledRuleSet, frame: pl.DataFrame) -> dict[str, np.ndarray]:
    """One boolean array per rule: did it fire for each row of ``frame``."""
    defaults = rs._defaults
    missing = {k: v for k, v in defaults.items() if k not in frame.columns}
    if missing:
        frame = frame.with_columns(pl.lit(v).alias(k) for k, v in missing.items())
    exprs: list[pl.Expr] = []
    fallback: list[tuple[str, rule_engine.Rule]] = []
    for spec, compiled in rs._rules:
        try:
            expr = to_polars(compiled.statement.expression).fill_null(False)
        except Untranslatable:
            fallback.append((spec.name, compiled))
            continue
        if spec.event_types:
            expr = expr & pl.col("event_type").is_in(list(spec.event_types))
        exprs.append(expr.alias(f"__rule_{spec.name}"))
    out: dict[str, np.ndarray] = {}
    if exprs:
        res = frame.select(exprs)
        for spec, _ in rs._rules:
            col = f"__rule_{spec.name}"
            if col in res.columns:
                out[spec.name] = res[col].to_numpy().astype(bool)
    for name, compiled in fallback:
        spec = next(s for s, _ in rs._rules if s.name == name)
        values = []
        for row in frame.iter_rows(named=True):
            try:
                hit = spec.applies_to(row.get("event_type", "")) and compiled.matches(row)
            except rule_engine.errors.EngineError:
                hit = False
            values.append(bool(hit))
        out[name] = np.array(values, dtype=bool)
    return out


def evaluate_frame(rs: CompiledRuleSet, frame: pl.DataFrame) -> pl.DataFrame:
    """Score, outcome and fired-rule count for every row (the batch twin of ``evaluate``)."""
    fired = fired_columns(rs, frame)
    n = frame.height
    score = np.zeros(n)
    severity = np.zeros(n, dtype=np.int8)
    n_fired = np.zeros(n, dtype=np.int16)
    for spec, _ in rs._rules:
        hit = fired[spec.name]
        score += np.where(hit, spec.weight, 0.0)
        n_fired += hit
        if spec.action:
            severity = np.maximum(severity, np.where(hit, OUTCOMES.index(spec.action), 0))
    score = np.clip(score, 0.0, 100.0)
    band_sev = np.zeros(n, dtype=np.int8)
    for band in sorted(rs.spec.bands, key=lambda b: b.min_score):
        band_sev = np.where(score >= band.min_score, OUTCOMES.index(band.outcome), band_sev)
    severity = np.maximum(severity, band_sev)
    outcome = np.array(OUTCOMES)[severity]
    return pl.DataFrame(
        {"score": score, "outcome": outcome, "n_fired": n_fired}
        | {f"rule_{k}": v for k, v in fired.items()}
    )
