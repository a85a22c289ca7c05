"""The outbox relay: copies committed outbox rows to their sink, in ``seq`` order.

The sink is the Parquet lake by default; with an event bus configured it is the JetStream
stream (:class:`finbridge.lake.stream.BusSink`), whose lake-writer consumer feeds the lake. A
bus sink refuses rows no schema describes (flagged with ``refused_reason``, kept, never
published) and makes the relay pause while a consumer lags (back-pressure).

An event reaches the outbox only if the transaction that emitted it commits (it is a row in that
transaction), and it leaves only through this relay, which marks rows published in the same
database transaction that selected them, after their Parquet file is safely on disk. So:

- a rolled-back transaction leaves nothing to publish;
- a crash after the file is written but before the commit leaves the rows unpublished; the next
  run writes the same batch again, which lands on the same file name (skipped) or, if the batch
  came out different, is hidden by the lake's per-``event_id`` deduplication;
- concurrent relays never publish a row twice visibly: on PostgreSQL each takes a disjoint batch
  (``FOR UPDATE SKIP LOCKED``), on SQLite the write lock taken at ``BEGIN IMMEDIATE`` runs them
  one after the other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Protocol

from sqlalchemy import Engine, delete, func, select, update

from finbridge.core.clock import Clock, SystemClock
from finbridge.core.errors import ValidationError
from finbridge.lake.eventlake import EventLake
from finbridge.lake.events import Event
from finbridge.lake.tables import OutboxRow
from finbridge.store.engine import unit_of_work

log = logging.getLogger("finbridge.relay")


@dataclass(frozen=True, slots=True)
class RelayResult:
    published: int
    batches: int
    refused: int = 0  # rows flagged and kept in the outbox (unknown event type or version)
    paused: str | None = None  # why the relay stopped early (back-pressure), if it did


class EventSink(Protocol):
    """Where the relay publishes: the lake itself, or an event bus."""

    refuses_unknown_types: bool

    def check(self, event_type: str, schema_version: int) -> None:
        """Raise :class:`ValidationError` if the sink must not take this kind of event."""
        ...

    def write(self, events: Sequence[Event], *, batch: str) -> object:
        """Store ``events`` durably (return only once they are safe)."""
        ...

    def paused(self) -> str | None:
        """Why publishing must wait now (a lagging consumer), or None."""
        ...


class LakeSink:
    """Today's path: the outbox straight into the Parquet lake."""

    refuses_unknown_types = False

    def __init__(self, lake: EventLake) -> None:
        self.lake = lake

    def check(self, event_type: str, schema_version: int) -> None:
        return None

    def write(self, events: Sequence[Event], *, batch: str) -> object:
        return self.lake.append(events, batch=batch)

    def paused(self) -> str | None:
        return None


class OutboxRelay:
    """Drain unpublished outbox rows to an :class:`EventLake` (or another sink) in batches."""

    def __init__(
        self,
        engine: Engine,
        lake: EventLake,
        *,
        clock: Clock | None = None,
        batch_size: int = 1000,
        sink: EventSink | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._engine = engine
        self._lake = lake
        self._sink: EventSink = sink or LakeSink(lake)
        self._clock = clock or SystemClock()
        self._batch_size = batch_size
        self.paused: str | None = None  # set while back-pressure holds the relay
        self.refused = 0  # rows this relay flagged

    def pending(self) -> int:
        """How many committed events wait for the relay."""
        with unit_of_work(self._engine, write=False) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(OutboxRow)
                    .where(OutboxRow.published_at.is_(None), OutboxRow.refused_reason.is_(None))
                )
                or 0
            )

    def refused_rows(self) -> list[tuple[str, str, str]]:
        """The flagged rows kept in the outbox: (event id, event type, why refused)."""
        with unit_of_work(self._engine, write=False) as session:
            rows = session.execute(
                select(OutboxRow.event_id, OutboxRow.event_type, OutboxRow.refused_reason)
                .where(OutboxRow.published_at.is_(None), OutboxRow.refused_reason.is_not(None))
                .order_by(OutboxRow.seq)
            ).all()
        return [(r[0], r[1], r[2] or "") for r in rows]

    def run_once(self) -> int:
        """Publish at most one batch; returns how many rows it handled (published or refused).

        Returns 0 without touching the outbox while the sink asks to pause (``self.paused``)."""
        self.paused = self._sink.paused()
        if self.paused is not None:
            return 0
        with unit_of_work(self._engine) as session:
            rows = session.scalars(
                select(OutboxRow)
                .where(OutboxRow.published_at.is_(None), OutboxRow.refused_reason.is_(None))
                .order_by(OutboxRow.seq)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            good, refused = self._sort(rows)
            if good:
                self._sink.write([_event(r) for r in good], batch=f"outbox-{rows[0].seq:012d}")
            self._before_mark_published()
            if good:
                session.execute(
                    update(OutboxRow)
                    .where(OutboxRow.seq.in_([r.seq for r in good]))
                    .values(published_at=self._clock.now())
                )
            for row, reason in refused:
                row.refused_reason = reason[:512]
            self.refused += len(refused)
            return len(rows)

    def _sort(
        self, rows: Sequence[OutboxRow]
    ) -> tuple[list[OutboxRow], list[tuple[OutboxRow, str]]]:
        if not self._sink.refuses_unknown_types:
            return list(rows), []
        good: list[OutboxRow] = []
        refused: list[tuple[OutboxRow, str]] = []
        for row in rows:
            try:
                self._sink.check(row.event_type, row.schema_version)
            except ValidationError as exc:
                log.error("outbox event %s refused, kept in the outbox: %s", row.event_id, exc)
                refused.append((row, str(exc)))
            else:
                good.append(row)
        return good, refused

    def drain(
        self,
        *,
        max_batches: int | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> RelayResult:
        """Publish batches until the outbox is empty (or ``max_batches`` were published).

        ``progress`` is called with the running total after each batch.
        """
        published = batches = 0
        refused_before = self.refused
        while max_batches is None or batches < max_batches:
            before = self.refused
            n = self.run_once()
            if n == 0:
                break
            published += n - (self.refused - before)
            batches += 1
            if progress is not None:
                progress(published)
        return RelayResult(
            published=published,
            batches=batches,
            refused=self.refused - refused_before,
            paused=self.paused,
        )

    def purge_published(self, older_than: timedelta) -> int:
        """Delete outbox rows published more than ``older_than`` ago; returns how many.

        Once published, the lake is the record; the outbox only needs to keep recent rows for
        inspection. Unpublished rows are never touched.
        """
        cutoff = self._clock.now() - older_than
        with unit_of_work(self._engine) as session:
            result = session.execute(
                delete(OutboxRow).where(
                    OutboxRow.published_at.is_not(None), OutboxRow.published_at < cutoff
                )
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    def _before_mark_published(self) -> None:
        """Hook between writing the file and marking rows published (crash tests use it)."""


def _event(row: OutboxRow) -> Event:
    occurred_at = row.occurred_at
    if occurred_at.tzinfo is None:  # SQLite keeps no offset; the outbox stores UTC
        occurred_at = occurred_at.replace(tzinfo=UTC)
    return Event(
        event_type=row.event_type,
        occurred_at=occurred_at,
        payload=dict(row.payload),
        source=row.source,
        subject_id=row.subject_id,
        schema_version=row.schema_version,
        event_id=row.event_id,
    )


__all__ = ["EventSink", "LakeSink", "OutboxRelay", "RelayResult"]
