"""The outbox relay: copies committed outbox rows to the Parquet lake, in ``seq`` order.

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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta

from sqlalchemy import Engine, delete, func, select, update

from finbridge.core.clock import Clock, SystemClock
from finbridge.lake.eventlake import EventLake
from finbridge.lake.events import Event
from finbridge.lake.tables import OutboxRow
from finbridge.store.engine import unit_of_work


@dataclass(frozen=True, slots=True)
class RelayResult:
    published: int
    batches: int


class OutboxRelay:
    """Drain unpublished outbox rows to an :class:`EventLake` in batches."""

    def __init__(
        self,
        engine: Engine,
        lake: EventLake,
        *,
        clock: Clock | None = None,
        batch_size: int = 1000,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self._engine = engine
        self._lake = lake
        self._clock = clock or SystemClock()
        self._batch_size = batch_size

    def pending(self) -> int:
        """How many committed events wait for the relay."""
        with unit_of_work(self._engine, write=False) as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(OutboxRow)
                    .where(OutboxRow.published_at.is_(None))
                )
                or 0
            )

    def run_once(self) -> int:
        """Publish at most one batch; returns how many events it published."""
        with unit_of_work(self._engine) as session:
            rows = session.scalars(
                select(OutboxRow)
                .where(OutboxRow.published_at.is_(None))
                .order_by(OutboxRow.seq)
                .limit(self._batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if not rows:
                return 0
            self._lake.append([_event(r) for r in rows], batch=f"outbox-{rows[0].seq:012d}")
            self._before_mark_published()
            session.execute(
                update(OutboxRow)
                .where(OutboxRow.seq.in_([r.seq for r in rows]))
                .values(published_at=self._clock.now())
            )
            return len(rows)

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
        while max_batches is None or batches < max_batches:
            n = self.run_once()
            if n == 0:
                break
            published += n
            batches += 1
            if progress is not None:
                progress(published)
        return RelayResult(published=published, batches=batches)

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


__all__ = ["OutboxRelay", "RelayResult"]
