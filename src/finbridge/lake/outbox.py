"""Publish events transactionally: write them to the outbox in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from finbridge.lake.events import Event
from finbridge.lake.tables import OutboxRow

_OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]


def emit(session: Session, *events: Event) -> None:
    """Record ``events`` in the outbox as part of ``session``'s open transaction."""
    emit_many(session, events)


def emit_many(session: Session, events: Iterable[Event]) -> None:
    rows = [
        {
            "event_id": e.event_id,
            "event_type": e.event_type,
            "schema_version": e.schema_version,
            "occurred_at": e.occurred_at,
            "subject_id": e.subject_id,
            "source": e.source,
            "payload": e.validated().payload,
        }
        for e in events
    ]
    if rows:
        # A Core insert on the Table (not the ORM entity) skips the ORM's bulk-insert bookkeeping,
        # which dominated the cost of seeding tens of thousands of events.
        session.execute(insert(_OUTBOX), rows)
