"""The checks every batch appended to the event lake passes (or is quarantined for)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from finbridge.lake.quality._frame import QualityReport, check_frame

if TYPE_CHECKING:
    import pyarrow as pa

# The envelope columns as pandas sees them after Arrow's conversion.
EVENT_DTYPES = {
    "event_id": "str",
    "event_type": "str",
    "schema_version": "int32",
    "occurred_at": "datetime64[us, UTC]",
    "source": "str",
    "payload": "str",
}
REQUIRED = ("event_id", "event_type", "schema_version", "occurred_at", "source", "payload")


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
    unique event ids, freshness (with ``policy.max_age``) and volume against ``recent_rows``."""
    policy = policy or QualityPolicy()
    if len(recent_rows) < policy.volume_min_history:
        recent_rows = ()
    return check_frame(
        table,
        name=name,
        dtypes=EVENT_DTYPES,
        required=REQUIRED,
        unique=("event_id",),
        ranges={"schema_version": (1, policy.max_schema_version)},
        time_column="occurred_at",
        not_before=policy.earliest,
        not_after=now + policy.future_tolerance,
        fresh_after=now - policy.max_age if policy.max_age is not None else None,
        recent_rows=recent_rows,
        volume_factor=policy.volume_factor,
        volume_floor=policy.volume_floor,
    )
