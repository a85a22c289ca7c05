"""The point-in-time ("as of") join, as one Ibis expression that DuckDB and Spark both run.

For each label row (entity, label time) it finds the latest feature row of the same entity
stamped *strictly before* the label time, and uses it only if it is younger than the view's TTL.
Not ``asof_join``: Ibis compiles that for DuckDB but not for PySpark. Instead, labels and
feature instants go into one stream per entity ordered by time, labels first among equal
times; a running maximum of feature instants gives each label the instant it may use, and an
equi-join on (entity, instant) fetches the values. Only a window maximum and an equality join:
both engines plan them well, and the strictness lives in one sort key.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from finbridge.core.errors import ValidationError
from finbridge.lake.featurestore._definitions import ENTITY_TIME

LABEL_ROW = "_label_row"


def number_labels(labels: ir.Table, entity: str, label_time: str) -> ir.Table:
    """``labels`` with a row id (the join needs one to put each label back together)."""
    for column in (entity, label_time):
        if column not in labels.columns:
            raise ValidationError(f"the labels have no {column!r} column", field=column)
    if not labels[label_time].type().is_timestamp():
        raise ValidationError(f"labels.{label_time} must be a timestamp", field=label_time)
    if LABEL_ROW in labels.columns:
        return labels
    return labels.mutate(
        **{LABEL_ROW: ibis.row_number().over(order_by=[labels[entity], labels[label_time]])}
    )


def point_in_time_join(
    labels: ir.Table,
    frame: ir.Table,
    *,
    entity: str,
    label_time: str,
    features: Sequence[str],
    ttl: timedelta,
) -> ir.Table:
    """``labels`` (numbered by :func:`number_labels`) with ``features`` from ``frame``.

    ``frame`` has one row per (entity, ``event_time``). Labels whose entity has no row strictly
    before their time, or only rows older than ``ttl``, get nulls; no label row is dropped.
    """
    clash = set(features) & set(labels.columns)
    if clash:
        raise ValidationError(
            f"the labels already have columns named like features: {sorted(clash)}",
            field="features",
        )
    key_type = labels[entity].type()
    if frame[entity].type() != key_type:
        frame = frame.mutate(**{entity: frame[entity].cast(key_type)})
    stamp = dt.Timestamp(timezone="UTC")
    lab = labels.select(
        **{
            entity: labels[entity],
            "_t": labels[label_time].cast(stamp),
            "_kind": ibis.literal(0, "int8"),
            LABEL_ROW: labels[LABEL_ROW].cast("int64"),
        }
    )
    feat = frame.select(
        **{
            entity: frame[entity],
            "_t": frame[ENTITY_TIME].cast(stamp),
            "_kind": ibis.literal(1, "int8"),
            LABEL_ROW: ibis.null("int64"),
        }
    )
    stream = lab.union(feat, distinct=False)
    seen = ibis.cumulative_window(group_by=stream[entity], order_by=[stream._t, stream._kind])
    known = ibis.ifelse(stream._kind == 1, stream._t, ibis.null(stamp)).max().over(seen)
    asof = (
        stream.mutate(_known=known)
        .filter(lambda s: s._kind == 0)
        .select(LABEL_ROW, "_t", "_known", entity)
    )
    young = asof._known > asof._t - ibis.interval(seconds=int(ttl.total_seconds()))
    asof = asof.mutate(_known=ibis.ifelse(young, asof._known, ibis.null(stamp))).select(
        LABEL_ROW, "_known", entity
    )
    values = frame.select(
        frame[entity].name("_e"), frame[ENTITY_TIME].cast(stamp).name("_ft"), *features
    )
    matched = asof.left_join(values, [asof[entity] == values._e, asof._known == values._ft]).select(
        LABEL_ROW, *features
    )
    out = labels.left_join(matched, labels[LABEL_ROW] == matched[LABEL_ROW])
    return out.select(*[c for c in labels.columns], *features)
