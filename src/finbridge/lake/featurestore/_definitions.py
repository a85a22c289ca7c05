"""Feature definitions: written once as Ibis expressions, checked before they run anywhere.

A :class:`FeatureView` names an entity (the join key, e.g. ``customer_id``), a source (a function
from the input table, usually the lake's ``events``, to one row per event with the entity column
and ``event_time``) and its features (functions from those rows to an Ibis value, usually a
trailing window aggregate built with :func:`trailing`). Materialising a view gives, for every
(entity, event_time), the feature values as known at that instant (the event itself included);
a training set then takes the latest such row strictly before each label's time, within the
view's TTL.

A definition that reads the future is refused before it runs (:func:`check_point_in_time`):
a window whose frame ends after the current row, or a ``lead``, would put values known only
later into the row, and no join can undo that. The error names the feature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from finbridge.core.errors import ValidationError

ENTITY_TIME = "event_time"
_NAME = r"[a-z][a-z0-9_]*"

FeatureFn = Callable[[ir.Table], ir.Value]
SourceFn = Callable[[ir.Table], ir.Table]


class FutureReadError(ValidationError):
    """A feature definition would see values stamped after the row it describes."""


@dataclass(frozen=True)
class Feature:
    """One named feature: ``expr(rows)`` over the view's per-event rows."""

    name: str
    expr: FeatureFn
    description: str = ""


@dataclass(frozen=True)
class FeatureView:
    """A versioned group of features of one entity, with an owner and a time to live.

    ``ttl``: a row older than this at a label's time is not used (the feature is null).
    """

    name: str
    entity: str
    source: SourceFn
    features: tuple[Feature, ...]
    ttl: timedelta
    owner: str
    version: int = 1
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import re

        if not re.fullmatch(_NAME, self.name):
            raise ValidationError(
                f"feature view name {self.name!r} is not snake_case", field="name"
            )
        if self.version < 1:
            raise ValidationError("a feature view's version starts at 1", field="version")
        if self.ttl <= timedelta(0):
            raise ValidationError(f"feature view {self.name}: ttl must be positive", field="ttl")
        if not self.features:
            raise ValidationError(f"feature view {self.name} has no features", field="features")
        names = [f.name for f in self.features]
        clash = {n for n in names if names.count(n) > 1} | (set(names) & {self.entity, ENTITY_TIME})
        if clash:
            raise ValidationError(
                f"feature view {self.name}: duplicate or reserved feature names {sorted(clash)}",
                field="features",
            )
        for n in names:
            if not re.fullmatch(_NAME, n):
                raise ValidationError(f"feature name {n!r} is not snake_case", field="features")

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def ref(self) -> str:
        return f"{self.name}:v{self.version}"


def trailing(
    rows: ir.Table,
    entity: str,
    days: float,
    *,
    time: str = ENTITY_TIME,
) -> Any:
    """A range window over the ``days`` before each row of the same entity, the row included.

    Range (not rows) framing: events at the same instant are peers, so every row of that instant
    gets the same value and which one is kept per (entity, instant) does not matter.
    """
    return ibis.range_window(
        preceding=ibis.interval(seconds=int(days * 86_400)),
        following=0,
        group_by=rows[entity],
        order_by=rows[time],
    )


def check_point_in_time(view: FeatureView, rows: ir.Table) -> dict[str, ir.Value]:
    """Each feature's expression over ``rows``, refused if any of them reads the future."""
    built: dict[str, ir.Value] = {}
    for feature in view.features:
        try:
            value = feature.expr(rows)
        except Exception as exc:  # an Ibis error in the definition itself: name the feature
            raise ValidationError(
                f"feature {view.name}.{feature.name} cannot be built: {exc}", field=feature.name
            ) from exc
        _refuse_future(view, feature.name, value)
        built[feature.name] = value
    return built


def _refuse_future(view: FeatureView, name: str, value: ir.Value) -> None:
    where = f"feature {view.name}.{name} reads the future"
    node = value.op()
    if node.find(ops.Lead):
        raise FutureReadError(f"{where}: lead() looks at later rows", field=name)
    for window in node.find(ops.WindowFunction):
        if isinstance(window.func, ops.Analytic):
            # Ranks and lags look only at rows before the current one in the window's order;
            # ordered newest-first they count the rows that come later.
            if any(not key.ascending for key in window.order_by):
                raise FutureReadError(
                    f"{where}: a ranking in descending time order counts later rows", field=name
                )
            continue
        end = window.end
        if end is None:  # an aggregate up to the partition's end
            raise FutureReadError(f"{where}: its window runs to the end of time", field=name)
        if not end.preceding and not _is_zero(end.value):
            raise FutureReadError(
                f"{where}: its window ends after the current row "
                f"(following={getattr(end.value, 'value', end.value)})",
                field=name,
            )
        if window.how == "rows" and not window.order_by:
            raise FutureReadError(f"{where}: a window without an order sees every row", field=name)


def _is_zero(value: Any) -> bool:
    while isinstance(value, ops.Cast):  # ``following=0`` arrives cast to the frame's type
        value = value.arg
    literal = value if isinstance(value, ops.Literal) else None
    if literal is None:
        return False
    v = literal.value
    if hasattr(v, "total_seconds"):
        return bool(v.total_seconds() == 0)
    return bool(v == 0)


def per_event_rows(view: FeatureView, table: ir.Table) -> ir.Table:
    """The view's source rows, with the entity and ``event_time`` columns it promised."""
    rows = view.source(table)
    missing = [c for c in (view.entity, ENTITY_TIME) if c not in rows.columns]
    if missing:
        raise ValidationError(
            f"feature view {view.name}: its source gives no {missing} column", field=missing[0]
        )
    kind = rows[ENTITY_TIME].type()
    if not kind.is_timestamp() or getattr(kind, "timezone", None) is None:
        raise ValidationError(
            f"feature view {view.name}: event_time must be a timestamp with a zone, not {kind}",
            field=ENTITY_TIME,
        )
    return rows


def feature_frame(view: FeatureView, table: ir.Table, *, until: Any = None) -> ir.Table:
    """One row per (entity, event_time) with every feature as known at that instant.

    ``until`` (aware datetime): only events strictly before it. The expression runs on whatever
    backend ``table`` is bound to (DuckDB here, PySpark at scale).
    """
    rows = per_event_rows(view, table)
    if until is not None:
        rows = rows.filter(rows[ENTITY_TIME] < until)
    rows = rows.filter(rows[view.entity].notnull())
    values = check_point_in_time(view, rows)
    out = rows.select(rows[view.entity], rows[ENTITY_TIME], **values)
    # Peers at one instant carry equal window values; keep one row per (entity, instant).
    first = ibis.row_number().over(
        group_by=[out[view.entity], out[ENTITY_TIME]], order_by=[out[ENTITY_TIME]]
    )
    return out.mutate(_n=first).filter(lambda t: t._n == 0).drop("_n")


def select_features(view: FeatureView, wanted: Sequence[str] | None) -> list[str]:
    """``wanted`` checked against the view (all of its features when None)."""
    if wanted is None:
        return view.feature_names
    unknown = [w for w in wanted if w not in view.feature_names]
    if unknown:
        raise ValidationError(
            f"feature view {view.name} has no feature {unknown[0]!r} "
            f"(it has {', '.join(view.feature_names)})",
            field="features",
        )
    return list(wanted)
