"""Rules as Python closures: the online twin of ``backtest._vector``.

The rule-engine interpreter walks a rule's syntax tree for every event, resolving and coercing
each symbol on the way (about 20 us per rule at load: a third of a decision's CPU). The tree was
already parsed and type-checked when the rule set was compiled, so here it is translated once,
node by node, into nested closures over plain Python values: comparisons, arithmetic, ``and``/
``or``/``not``, symbols and literals. A node the translator does not know leaves that rule to the
interpreter, and an evaluation that fails at run time (a division by zero, a value of an
unexpected type) is handed to the interpreter too, so errors read exactly as before.

Numbers are compared and combined as floats, as the features are; the interpreter converts them
to ``Decimal`` first. The two agree except for a quotient or sum within one rounding step of a
rule's threshold.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import rule_engine.ast as ast

Closure = Callable[[Mapping[str, Any]], Any]

# rule-engine comparison node types -> operators; the vector backtest uses the same table.
COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "tdiv": operator.truediv,
}


class Untranslatable(Exception):
    """A node this translator leaves to the interpreter."""


def to_closure(node: Any) -> Closure:
    """Translate one rule-engine syntax node; :class:`Untranslatable` for anything else."""
    if isinstance(node, ast.SymbolExpression):
        name = node.name
        return lambda ctx: ctx[name]
    if isinstance(node, ast.FloatExpression):
        number = float(node.value)
        return lambda ctx: number
    if isinstance(node, ast.BooleanExpression):
        flag = bool(node.value)
        return lambda ctx: flag
    if isinstance(node, ast.StringExpression):
        text = str(node.value)
        return lambda ctx: text
    if isinstance(node, ast.LogicExpression):
        left, right = to_closure(node.left), to_closure(node.right)
        if node.type == "and":
            return lambda ctx: bool(left(ctx)) and bool(right(ctx))
        if node.type == "or":
            return lambda ctx: bool(left(ctx)) or bool(right(ctx))
        raise Untranslatable(node.type)
    if isinstance(node, ast.UnaryExpression):
        inner = to_closure(node.right)
        if node.type == "not":
            return lambda ctx: not inner(ctx)
        if node.type == "uminus":
            return lambda ctx: -_number(inner(ctx))
        raise Untranslatable(node.type)
    if isinstance(node, (ast.ArithmeticExpression, ast.AddExpression, ast.SubtractExpression)):
        op = _ARITHMETIC.get(node.type)
        if op is None:
            raise Untranslatable(node.type)
        left, right = to_closure(node.left), to_closure(node.right)
        return lambda ctx: op(_number(left(ctx)), _number(right(ctx)))
    if isinstance(node, (ast.ArithmeticComparisonExpression, ast.ComparisonExpression)):
        cmp = COMPARISONS.get(node.type)
        if cmp is None:
            raise Untranslatable(node.type)
        left, right = to_closure(node.left), to_closure(node.right)
        if isinstance(node, ast.ArithmeticComparisonExpression):
            return lambda ctx: cmp(_number(left(ctx)), _number(right(ctx)))
        return lambda ctx: cmp(left(ctx), right(ctx))
    raise Untranslatable(type(node).__name__)


def _number(value: Any) -> float:
    # Booleans are numbers to Python but not to the interpreter: hand those cases back to it.
    if value.__class__ is bool or not isinstance(value, (int, float)):
        raise TypeError(f"not a number: {value!r}")
    return value
