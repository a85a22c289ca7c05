"""Decisions kept in the platform's database (SQLite or PostgreSQL) through SQLAlchemy.

Three ways to commit, chosen by the settings: one transaction per decision (simple, the default
for libraries and tests); group commit, where concurrent decisions share one transaction through
a writer thread (``_group_commit``); and group commit in a child process (``_process``), the
choice for sustained high rates on few cores, where a writer thread starves for the GIL. With the
child process an event loop hands its decisions over directly (``_loop_writer``); threads (the
posting guard, library callers) go through the writer thread and the child's second pipe.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, Table, insert, or_, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

from finbridge.lake import emit_driver
from finbridge.risk.decisions._decision import Decision
from finbridge.risk.decisions._port import CASE_COLUMNS, DECISION_COLUMNS, DuplicateEvent, Writes
from finbridge.risk.store._group_commit import GroupCommitWriter
from finbridge.risk.store._probe import DecidedProbe
from finbridge.risk.tables import CaseRow, DecisionRow
from finbridge.store.engine import unit_of_work, write_connection

if TYPE_CHECKING:
    from finbridge.risk.store._loop_writer import LoopWriter
    from finbridge.risk.store._process import ProcessWriter

DECISIONS: Table = DecisionRow.__table__  # type: ignore[assignment]
CASES: Table = CaseRow.__table__  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class _RowInsert:
    """An INSERT compiled once per dialect into the driver's SQL, for rows that are tuples in
    a fixed column order: each value is converted by its column's own bind processor (the
    stored values are those SQLAlchemy Core would store) and bound in the driver's order."""

    sql: str
    # Per driver parameter: its index in the row (extended by ``tail``) and its converter.
    slots: tuple[tuple[int, Callable[[Any], Any] | None], ...]
    tail: tuple[Any, ...]  # the scalar defaults of the columns the rows leave out
    names: tuple[str, ...] | None  # named paramstyle (psycopg): the parameter names

    def bind(self, rows: Iterable[tuple[Any, ...]]) -> list[Any]:
        slots, tail = self.slots, self.tail
        bound = [
            tuple(full[i] if convert is None else convert(full[i]) for i, convert in slots)
            for full in ((row + tail if tail else row) for row in rows)
        ]
        if self.names is None:
            return bound
        names = self.names
        return [dict(zip(names, values, strict=True)) for values in bound]


@cache
def _row_insert(table: Table, columns: tuple[str, ...], dialect: Dialect) -> _RowInsert:
    compiled = insert(table).compile(dialect=dialect, column_keys=list(columns))
    positions = compiled.positiontup
    order = tuple(positions) if positions is not None else tuple(compiled.binds)
    # Columns the rows leave out but the statement binds: their scalar default from the table
    # (a case's origin, "decision"), one place for it.
    missing = tuple(name for name in order if name not in columns)
    tail = []
    for name in missing:
        default = table.c[name].default
        if default is None or not default.is_scalar:
            raise RuntimeError(f"{table.name}.{name}: no value and no scalar default")
        tail.append(default.arg)  # type: ignore[attr-defined]
    index = {name: i for i, name in enumerate(columns + missing)}
    slots = tuple(
        (index[name], table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in order
    )
    return _RowInsert(compiled.string, slots, tuple(tail), None if positions else order)


def write_bundles(engine: Engine, bundles: Sequence[Writes]) -> None:
    """Commit the rows of several decisions in one transaction.

    Straight through the driver: one pre-compiled INSERT per table and one ``executemany``
    (SQLAlchemy's per-row parameter processing was half of the writer process's CPU); the
    events go in as :func:`emit_driver` writes them, already validated where they were built.
    """
    decisions = [d for b in bundles for d in b.decisions]
    cases = [c for b in bundles for c in b.cases]
    events = [e for b in bundles for e in b.events]
    dialect = engine.dialect
    with write_connection(engine) as conn:
        if decisions:
            rows = _row_insert(DECISIONS, DECISION_COLUMNS, dialect)
            conn.exec_driver_sql(rows.sql, rows.bind(decisions))
        if cases:
            rows = _row_insert(CASES, CASE_COLUMNS, dialect)
            conn.exec_driver_sql(rows.sql, rows.bind(cases))
        if events:
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                emit_driver(cursor, dialect, *events, validated=True)
            finally:
                cursor.close()


class SqlDecisionStore:
    """The ``DecisionStore`` over the platform's SQLAlchemy engine."""

    def __init__(
        self,
        engine: Engine,
        *,
        group_commit: bool = False,
        writer_process: bool = False,
        commit_linger_s: float = 0.003,
    ) -> None:
        self.engine = engine
        self._probe = DecidedProbe(engine)
        self._group_commit = group_commit
        self._writer_process = writer_process and group_commit
        self._linger_s = commit_linger_s
        self._writer: GroupCommitWriter | None = None
        self._process: ProcessWriter | None = None
        self._loop_writer: LoopWriter | None = None
        self._start_lock = threading.Lock()

    def _started(self) -> GroupCommitWriter | None:
        if not self._group_commit:
            return None
        if self._writer is None:
            with self._start_lock:
                if self._writer is None and self._writer_process:
                    from finbridge.risk.store._loop_writer import LoopWriter
                    from finbridge.risk.store._process import ProcessWriter

                    process = ProcessWriter(self.engine)
                    self._process, self._loop_writer = (
                        process,
                        LoopWriter(
                            process.loop_batches, process.loop_answers, duplicate=_duplicate
                        ),
                    )
                    self._writer = GroupCommitWriter(process, linger_s=self._linger_s)
                elif self._writer is None:
                    self._writer = GroupCommitWriter(
                        lambda batch: write_bundles(self.engine, batch)
                    )
        return self._writer

    def warm(self) -> None:
        """Start the writer and open the calling thread's probe connection; called on an event
        loop's thread, also attach the loop writer to that loop."""
        self._started()
        if self._process is not None:
            self._process([Writes()])  # an empty commit: the child's first write path runs now
        if self._loop_writer is not None:
            with contextlib.suppress(RuntimeError):  # no loop runs in this thread
                self._loop_writer.attach(asyncio.get_running_loop())
        self._probe.decided("")  # opens this thread's probe connection (one per thread)

    def decided(self, event_id: str) -> bool:
        return self._probe.decided(event_id)

    def save(self, writes: Writes) -> None:
        writer = self._started()
        try:
            if writer is not None:
                writer.submit(writes)
            else:
                write_bundles(self.engine, [writes])
        except IntegrityError as exc:
            raise DuplicateEvent("this event has been decided already") from exc

    async def save_async(self, writes: Writes) -> None:
        writer = self._started()
        try:
            if self._loop_writer is not None:  # an event loop talks to the process directly
                await self._loop_writer.submit(writes)
            elif writer is not None:
                await writer.submit_async(writes)
            else:
                await asyncio.to_thread(write_bundles, self.engine, [writes])
        except IntegrityError as exc:
            raise DuplicateEvent("this event has been decided already") from exc

    def save_soon(self, writes: Writes) -> asyncio.Future[None] | None:
        """Hand ``writes`` to the writer process from the running loop without a coroutine:
        the future resolves once committed (``DuplicateEvent``: the event is stored already).
        None when this store has no loop writer: the caller awaits :meth:`save_async`."""
        self._started()
        if self._loop_writer is None:
            return None
        return self._loop_writer.enqueue(writes)

    def stored(self, event_id: str) -> Decision | None:
        # The probe first: almost every event is new, and it costs a fraction of the query.
        if not self._probe.decided(event_id):
            return None
        with unit_of_work(self.engine, write=False) as s:
            row = s.scalars(
                select(DecisionRow).where(
                    DecisionRow.event_id == event_id, DecisionRow.mode == "live"
                )
            ).first()
            if row is None:
                return None
            case_id = s.scalar(select(CaseRow.id).where(CaseRow.decision_id == row.id))
        return Decision(
            decision_id=row.id,
            event_id=row.event_id,
            event_type=row.event_type,
            customer_id=row.customer_id or "",
            outcome=row.outcome,
            score=row.score,
            ml_score=row.ml_score,
            fired=tuple(row.fired),
            reasons=tuple(row.reasons),
            rule_set=row.rule_set,
            model_version=row.model_version,
            degraded=row.degraded,
            case_id=case_id,
            posting_outcome=row.posting_outcome,
            posting_error=row.posting_error,
        )

    def record_posting(self, decision_id: str, *, posted: bool, reason: str | None) -> None:
        # A posting that went through stays recorded as such: a later racing duplicate of the
        # same command settles as failed ("replayed") and must not overwrite it.
        with unit_of_work(self.engine) as s:
            s.execute(
                update(DecisionRow)
                .where(
                    DecisionRow.id == decision_id,
                    or_(
                        DecisionRow.posting_outcome.is_(None),
                        DecisionRow.posting_outcome != "posted",
                    ),
                )
                .values(
                    posting_outcome="posted" if posted else "failed",
                    posting_error=None if posted else (reason or "the posting failed")[:2000],
                )
            )

    def close(self) -> None:
        if self._loop_writer is not None:
            self._loop_writer.close()
            self._loop_writer = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._process is not None:
            self._process.close()
            self._process = None
        self._probe.close()


def _duplicate(detail: str) -> BaseException:
    return DuplicateEvent("this event has been decided already")
