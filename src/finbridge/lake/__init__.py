"""The financial cloud's first layer: typed events, the outbox, the Parquet/DuckDB lake."""

from finbridge.lake.events import (
    Event,
    EventPayload,
    known_event_types,
    register_schema,
    schema_for,
)
from finbridge.lake.outbox import emit, emit_many

__all__ = [
    "Event",
    "EventPayload",
    "emit",
    "emit_many",
    "known_event_types",
    "register_schema",
    "schema_for",
]
