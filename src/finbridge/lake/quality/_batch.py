"""The checks every batch appended to the event lake passes (or is quarantined for)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from finbridge.lake.quality._frame import Failure, QualityReport, check_frame

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True, slots=True)
class QualityPolicy:
    """What a lake batch must satisfy. ``max_age`` None: no freshness check (partner files and
    the demo replay history); volume is judged only for batches above ``volume_floor`` rows,
    against the past ``volume_window`` of appended batches."""

    earliest: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    future_tolerance: timedelta = timedelta(minutes=5)
    max_age: timedelta | None = None
    max_schema_version: int = 1000
    volume_factor: float = 20.0
    volume_floor: int = 5000
    volume_window: timedelta = timedelta(days=7)
    volume_min_history: int = 5


def check_event_batch(
    table: pa.Table,
    *,
    name: str,
    now: datetime,
    policy: QualityPolicy | None = None,
    recent_rows: Sequence[int] = (),
) -> QualityReport:
    """Schema, nulls, ranges (schema version, occurred_at within [earliest, now + tolerance]),
    unique event ids, freshness (with ``policy.max_age``) and volume against ``recent_rows``.

    Column types and the nulls of the wide text columns are read from Arrow directly (the
    batch is already typed, and converting payloads to pandas costs more than the rest of an
    append); pandera checks the rest on a frame of the three narrow columns.
    """
    policy = policy or QualityPolicy()
    if len(recent_rows) < policy.volume_min_history:
        recent_rows = ()
    failures: list[Failure] = []
    for column, expected in _ARROW_TYPES.items():
        index = table.schema.get_field_index(column)
        if index < 0:
            failures.append(Failure("schema", column, 0, f"missing column {column!r}"))
            continue
        actual = table.schema.field(index).type
        if str(actual) not in expected:
            failures.append(
                Failure("schema", column, 0, f"{column}: type {actual}, expected {expected[0]}")
            )
            continue
        nulls = table.column(column).null_count
        if nulls and column not in _NARROW:
            failures.append(Failure("nulls", column, nulls, f"{column}: {nulls} null value(s)"))
    narrow = [c for c in _NARROW if c not in {f.column for f in failures if f.check == "schema"}]
    report = check_frame(
        table.select(narrow),
        name=name,
        required=narrow,
        unique=("event_id",) if "event_id" in narrow else (),
        ranges={"schema_version": (1, policy.max_schema_version)}
        if "schema_version" in narrow
        else None,
        time_column="occurred_at" if "occurred_at" in narrow else None,
        not_before=policy.earliest,
        not_after=now + policy.future_tolerance,
        fresh_after=now - policy.max_age if policy.max_age is not None else None,
        recent_rows=recent_rows,
        volume_factor=policy.volume_factor,
        volume_floor=policy.volume_floor,
    )
    return QualityReport(report.name, report.rows, (*failures, *report.failures))


# Accepted Arrow spellings per envelope column (Delta reads strings back as large or view).
_ARROW_TYPES = {
    "event_id": ("string", "large_string", "string_view"),
    "event_type": ("string", "large_string", "string_view"),
    "schema_version": ("int32",),
    "occurred_at": ("timestamp[us, tz=UTC]",),
    "source": ("string", "large_string", "string_view"),
    "payload": ("string", "large_string", "string_view"),
}
_NARROW = ("event_id", "schema_version", "occurred_at")
