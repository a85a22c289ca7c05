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
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import Engine, Table, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from finbridge.lake import emit_many
from finbridge.risk.decisions._decision import Decision
from finbridge.risk.decisions._port import DuplicateEvent, Writes
from finbridge.risk.store._group_commit import GroupCommitWriter
from finbridge.risk.store._probe import DecidedProbe
from finbridge.risk.tables import CaseRow, DecisionRow
from finbridge.store.engine import unit_of_work

if TYPE_CHECKING:
    from finbridge.risk.store._loop_writer import LoopWriter
    from finbridge.risk.store._process import ProcessWriter

# Core tables: executemany through Core skips the ORM's per-row bookkeeping.
DECISIONS = Table("risk_decisions", DecisionRow.metadata, extend_existing=True)
CASES = Table("risk_cases", CaseRow.metadata, extend_existing=True)
# Built once: constructing an insert per batch was 3 % of the writer process's time (py-spy).
_INSERT_DECISIONS, _INSERT_CASES = insert(DECISIONS), insert(CASES)


def write_bundles(engine: Engine, bundles: Sequence[Writes]) -> None:
    """Commit the rows of several decisions in one transaction."""
    decisions = [d for b in bundles for d in b.decisions]
    cases = [c for b in bundles for c in b.cases]
    events = [e for b in bundles for e in b.events]
    with unit_of_work(engine) as s:
        if decisions:
            s.execute(_INSERT_DECISIONS, decisions)
        if cases:
            s.execute(_INSERT_CASES, cases)
        emit_many(s, events)


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
