"""A small declarative factor language: parse text into an AST, compile the AST to Polars.

Grammar (no ``eval`` anywhere; the text is tokenised and parsed by recursive descent)::

    expr    := compare
    compare := arith (('>' | '<' | '>=' | '<=' | '==' | '!=') arith)?
    arith   := term (('+' | '-') term)*
    term    := unary (('*' | '/') unary)*
    unary   := '-' unary | atom
    atom    := NUMBER | FIELD | NAME '(' expr (',' expr)* ')' | '(' expr ')'

Fields are bar columns (``close``, ``$close`` Qlib-style also accepted). Time-series functions
work per instrument over time; ``cs_rank``/``cs_zscore`` work across instruments per date.
Window arguments are integer literals. ``ref(x, n)`` with ``n < 0`` reads the future: the
compiler refuses it (:class:`LookAheadError`) unless asked for a label.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

import numpy as np
import polars as pl

from finbridge.core.errors import ValidationError
from finbridge.quant.factors import _kernels


class ExpressionError(ValidationError):
    """The factor text does not parse or uses an unknown name."""

    code = "factor_expression_invalid"
    title = "Invalid factor expression"


class LookAheadError(ValidationError):
    """A feature would read data from after the decision time."""

    code = "look_ahead"
    title = "Feature reads the future"


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Unary:
    op: str
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Node, ...]


Node = Union[Num, Field, Unary, Binary, Call]  # noqa: UP007 - recursive alias

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)"
    r"|(?P<name>\$?[A-Za-z_][A-Za-z_0-9]*)|(?P<op>>=|<=|==|!=|[-+*/(),<>]))"
)

# name -> (number of expression args, number of trailing integer window args, extra float args)
_ROLLING = {"mean", "std", "var", "sum", "max", "min", "rank", "slope", "rsquare", "resi",
            "idxmax", "idxmin", "skew", "median", "ema", "delta", "ref"}  # fmt: skip
_SIGNATURES: dict[str, tuple[int, int, int]] = {
    **{f: (1, 1, 0) for f in _ROLLING},
    "quantile": (1, 1, 1),
    "corr": (2, 1, 0),
    "cov": (2, 1, 0),
    "abs": (1, 0, 0),
    "log": (1, 0, 0),
    "sign": (1, 0, 0),
    "sqrt": (1, 0, 0),
    "greater": (2, 0, 0),
    "less": (2, 0, 0),
    "cs_rank": (1, 0, 0),
    "cs_zscore": (1, 0, 0),
}


def _tokenise(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise ExpressionError(f"unexpected character at {pos}: {text[pos:pos + 10]!r}",
                                  field="expression")  # fmt: skip
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenise(text)
        self.i = 0

    def fail(self, why: str) -> ExpressionError:
        return ExpressionError(f"{why} in {self.text!r}", field="expression")

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise self.fail(f"expected {value or 'more input'}")
        self.i += 1
        return token

    def parse(self) -> Node:
        node = self.compare()
        if self.peek() is not None:
            raise self.fail(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return node

    def compare(self) -> Node:
        node = self.arith()
        token = self.peek()
        if token and token[1] in {">", "<", ">=", "<=", "==", "!="}:
            self.take()
            node = Binary(token[1], node, self.arith())
        return node

    def arith(self) -> Node:
        node = self.term()
        while (token := self.peek()) and token[1] in {"+", "-"}:
            self.take()
            node = Binary(token[1], node, self.term())
        return node

    def term(self) -> Node:
        node = self.unary()
        while (token := self.peek()) and token[1] in {"*", "/"}:
            self.take()
            node = Binary(token[1], node, self.unary())
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token and token[1] == "-":
            self.take()
            operand = self.unary()
            return Num(-operand.value) if isinstance(operand, Num) else Unary("-", operand)
        return self.atom()

    def atom(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            return Num(float(value))
        if value == "(":
            node = self.compare()
            self.take(")")
            return node
        if kind != "name":
            raise self.fail(f"unexpected {value!r}")
        token = self.peek()
        if token and token[1] == "(":
            return self.call(value.lower())
        return Field(value.lstrip("$").lower())

    def call(self, func: str) -> Node:
        if func not in _SIGNATURES:
            raise self.fail(f"unknown function {func!r}")
        self.take("(")
        args = [self.compare()]
        while self.peek() and self.peek()[1] == ",":  # type: ignore[index]
            self.take(",")
            args.append(self.compare())
        self.take(")")
        n_expr, n_window, n_float = _SIGNATURES[func]
        if len(args) != n_expr + n_window + n_float:
            raise self.fail(f"{func} takes {n_expr + n_window + n_float} arguments")
        for arg in args[n_expr:]:
            if not isinstance(arg, Num):
                raise self.fail(f"{func}: window and quantile arguments must be numbers")
        if n_window:
            window = args[n_expr]
            assert isinstance(window, Num)  # checked above
            if window.value != int(window.value):
                raise self.fail(f"{func}: window must be an integer")
            if func != "ref" and window.value < 1:
                raise self.fail(f"{func}: window must be >= 1")
        return Call(func, tuple(args))


def parse(text: str) -> Node:
    """Parse factor text into an AST; raises :class:`ExpressionError` with the reason."""
    if not text or not text.strip():
        raise ExpressionError("empty expression", field="expression")
    return _Parser(text).parse()


def _window(node: Call) -> int:
    n_expr = _SIGNATURES[node.func][0]
    arg = node.args[n_expr]
    assert isinstance(arg, Num)
    return int(arg.value)


def lookback(node: Node) -> int:
    """Days of history the expression needs before its value exists (warm-up)."""
    if isinstance(node, Num | Field):
        return 0
    if isinstance(node, Unary):
        return lookback(node.operand)
    if isinstance(node, Binary):
        return max(lookback(node.left), lookback(node.right))
    inner = max(lookback(a) for a in node.args[: _SIGNATURES[node.func][0]])
    if _SIGNATURES[node.func][1]:
        window = _window(node)
        return inner + (max(window, 0) if node.func == "ref" else window - 1)
    return inner


def lookahead(node: Node) -> int:
    """Days after the row's date the expression reads (0 for a proper feature)."""
    if isinstance(node, Num | Field):
        return 0
    if isinstance(node, Unary):
        return lookahead(node.operand)
    if isinstance(node, Binary):
        return max(lookahead(node.left), lookahead(node.right))
    inner = max(lookahead(a) for a in node.args[: _SIGNATURES[node.func][0]])
    if node.func == "ref" and _window(node) < 0:
        return inner - _window(node)
    return inner


def fields(node: Node) -> set[str]:
    if isinstance(node, Field):
        return {node.name}
    if isinstance(node, Num):
        return set()
    if isinstance(node, Unary):
        return fields(node.operand)
    if isinstance(node, Binary):
        return fields(node.left) | fields(node.right)
    return set().union(*(fields(a) for a in node.args))


_KERNELS: dict[str, Callable[[np.ndarray, np.ndarray, int], np.ndarray]] = {
    "slope": _kernels.slope,
    "rsquare": _kernels.rsquare,
    "resi": _kernels.resi,
    "idxmax": _kernels.idxmax,
    "idxmin": _kernels.idxmin,
    "rank": _kernels.rank_pct,
}


# Row position inside its instrument (0 on the first day), added by the factor engine. Rolling
# operators run over the whole (instrument, date)-sorted column, which is much faster than a
# window function per instrument, and ``_within`` blanks the rows whose window would reach into
# the previous instrument: exactly those with position < window - 1.
POSITION = "__pos"


GROUP_LENGTH = "__len"  # rows of the row's instrument, added by the factor engine


def _within(expr: pl.Expr, need: int) -> pl.Expr:
    return pl.when(pl.col(POSITION) >= need).then(expr)


def _shifted(x: pl.Expr, k: int) -> pl.Expr:
    if k >= 0:
        return _within(x.shift(k), k)
    # A future reference (labels only): the last -k rows of an instrument have no future.
    return pl.when(pl.col(POSITION) < pl.col(GROUP_LENGTH) + k).then(x.shift(k))


def _kernel_expr(inner: pl.Expr, func: str, window: int) -> pl.Expr:
    kernel = _KERNELS[func]

    def run(packed: pl.Series) -> pl.Series:
        values = packed.struct.field("v").cast(pl.Float64).fill_null(np.nan).to_numpy()
        pos = packed.struct.field("p").to_numpy()
        return pl.Series(packed.name, kernel(values, pos, window), dtype=pl.Float64)

    # One call over the whole (instrument, date)-sorted column; ``p`` keeps windows inside
    # one instrument.
    return pl.struct(inner.alias("v"), pl.col(POSITION).alias("p")).map_batches(
        run, return_dtype=pl.Float64
    )


def compile_node(
    node: Node, *, columns: set[str], group: str = "instrument", date: str = "date"
) -> pl.Expr:
    """Compile an AST to a Polars expression over a frame sorted by (group, date)."""

    def c(n: Node) -> pl.Expr:
        return compile_node(n, columns=columns, group=group, date=date)

    if isinstance(node, Num):
        return pl.lit(node.value, dtype=pl.Float64)
    if isinstance(node, Field):
        if node.name not in columns:
            raise ExpressionError(
                f"unknown field {node.name!r}; available: {sorted(columns)}", field="expression"
            )
        return pl.col(node.name).cast(pl.Float64)
    if isinstance(node, Unary):
        return -c(node.operand)
    if isinstance(node, Binary):
        left, right = c(node.left), c(node.right)
        ops: dict[str, Callable[[pl.Expr, pl.Expr], pl.Expr]] = {
            "+": lambda a, b: a + b,
            "-": lambda a, b: a - b,
            "*": lambda a, b: a * b,
            "/": lambda a, b: a / b,
            ">": lambda a, b: (a > b).cast(pl.Float64),
            "<": lambda a, b: (a < b).cast(pl.Float64),
            ">=": lambda a, b: (a >= b).cast(pl.Float64),
            "<=": lambda a, b: (a <= b).cast(pl.Float64),
            "==": lambda a, b: (a == b).cast(pl.Float64),
            "!=": lambda a, b: (a != b).cast(pl.Float64),
        }
        return ops[node.op](left, right)
    func, args = node.func, node.args
    x = c(args[0])
    if func in {"abs", "log", "sign", "sqrt"}:
        return getattr(x, func)()  # type: ignore[no-any-return]
    if func == "greater":
        return pl.max_horizontal(x, c(args[1]))
    if func == "less":
        return pl.min_horizontal(x, c(args[1]))
    if func == "cs_rank":
        return x.rank("average").over(date) / x.count().over(date)
    if func == "cs_zscore":
        return (x - x.mean().over(date)) / x.std().over(date)
    window = _window(node)
    if func == "ref":
        return _shifted(x, window)
    if func == "delta":
        return x - _shifted(x, window)
    if func in {"corr", "cov"}:
        y = c(args[1])
        op = pl.rolling_corr if func == "corr" else pl.rolling_cov
        return _within(op(x, y, window_size=window), window - 1)
    if func == "quantile":
        q = args[2]
        assert isinstance(q, Num)
        return _within(x.rolling_quantile(q.value, "linear", window_size=window), window - 1)
    if func == "ema":
        return x.ewm_mean(span=window, adjust=False, min_samples=window).over(group)
    if func in _KERNELS:
        return _kernel_expr(x, func, window)
    rolling: dict[str, Callable[[int], pl.Expr]] = {
        "mean": x.rolling_mean,
        "std": x.rolling_std,
        "var": x.rolling_var,
        "sum": x.rolling_sum,
        "max": x.rolling_max,
        "min": x.rolling_min,
        "skew": x.rolling_skew,
        "median": x.rolling_median,
    }
    return _within(rolling[func](window), window - 1)


def compile_expression(
    text: str, *, columns: set[str], allow_lookahead: bool = False, name: str | None = None
) -> pl.Expr:
    """Parse and compile; refuse expressions that read the future unless ``allow_lookahead``."""
    node = parse(text)
    ahead = lookahead(node)
    if ahead and not allow_lookahead:
        raise LookAheadError(
            f"{name or text!r} reads {ahead} day(s) after the decision time "
            "(ref with a negative offset); only labels may do that",
            field="expression",
        )
    expr = compile_node(node, columns=columns)
    # Division by zero and logs of zero give inf/NaN: make them missing, not numbers.
    clean = pl.when(expr.is_finite()).then(expr).otherwise(None)
    return clean.alias(name or text)
