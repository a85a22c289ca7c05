"""The financial cloud: typed events, the outbox, the Delta/DuckDB lake, data quality.

- :mod:`~finbridge.lake.events` the envelope and the schema registry; common schemas in
  :mod:`~finbridge.lake.schemas` (registered on import of this package).
- :func:`emit` writes events to the outbox inside the caller's transaction;
  :class:`OutboxRelay` copies committed ones to the :class:`EventLake`.
- :class:`Ingestor` / :func:`ingest_file` validate and store partner files.
- :class:`EventService` is the authorised face for interfaces.
- Feature pipelines (Ibis) live in :mod:`finbridge.lake.features` (imported on demand: Ibis is
  heavy, and most callers never need it).
"""

from finbridge.lake import schemas as _schemas  # noqa: F401 - registers the common schemas
from finbridge.lake.event_service import DailyVolume, EventService
from finbridge.lake.eventlake import AppendResult, EventLake, StoredEvent, canonical_json
from finbridge.lake.events import (
    Event,
    EventPayload,
    known_event_types,
    register_schema,
    schema_for,
)
from finbridge.lake.ingest import (
    Ingestor,
    IngestReport,
    Rejection,
    derive_event_id,
    guess_format,
    ingest_file,
)
from finbridge.lake.legacy import MigrationResult, migrate_legacy
from finbridge.lake.outbox import emit, emit_driver, emit_many, emit_on
from finbridge.lake.relay import OutboxRelay, RelayResult
from finbridge.lake.schemas import COMMON_EVENT_TYPES, StrictPayload

__all__ = [
    "COMMON_EVENT_TYPES",
    "AppendResult",
    "DailyVolume",
    "Event",
    "EventLake",
    "EventPayload",
    "EventService",
    "IngestReport",
    "Ingestor",
    "MigrationResult",
    "OutboxRelay",
    "Rejection",
    "RelayResult",
    "StoredEvent",
    "StrictPayload",
    "canonical_json",
    "derive_event_id",
    "emit",
    "emit_driver",
    "emit_many",
    "emit_on",
    "guess_format",
    "ingest_file",
    "known_event_types",
    "migrate_legacy",
    "register_schema",
    "schema_for",
]
