"""Storing decisions: one transaction per decision, or group commit under load.

Group commit: callers hand their rows to one writer thread and wait for the commit of the batch
that carried them, so a decision is durable before it is returned, but a burst of concurrent
decisions shares one transaction (and one WAL sync) instead of paying one each. A failed batch
is retried row bundle by row bundle, so one bad bundle fails only its own caller.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, Table, insert

from finbridge.core.errors import ServiceUnavailable
from finbridge.lake import Event, emit_many
from finbridge.risk.tables import CaseRow, DecisionRow
from finbridge.store.engine import unit_of_work

COMMIT_TIMEOUT_S = 10.0
# Core tables: executemany through Core skips the ORM's per-row bookkeeping.
DECISIONS = Table("risk_decisions", DecisionRow.metadata, extend_existing=True)
CASES = Table("risk_cases", CaseRow.metadata, extend_existing=True)


@dataclass
class Writes:
    decisions: list[dict[str, Any]] = field(default_factory=list)
    cases: list[dict[str, Any]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)


def write_bundles(engine: Engine, bundles: Sequence[Writes]) -> None:
    decisions = [d for b in bundles for d in b.decisions]
    cases = [c for b in bundles for c in b.cases]
    events = [e for b in bundles for e in b.events]
    with unit_of_work(engine) as s:
        if decisions:
            s.execute(insert(DECISIONS), decisions)
        if cases:
            s.execute(insert(CASES), cases)
        emit_many(s, events)


class GroupCommitWriter:
    def __init__(self, write: Callable[[list[Writes]], None], max_batch: int = 256) -> None:
        self._write = write
        self._max = max_batch
        self._queue: queue.SimpleQueue[tuple[Writes, Future[None]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="risk-writer", daemon=True)
        self._thread.start()

    def submit(self, bundle: Writes) -> None:
        """Queue ``bundle`` and wait until the transaction carrying it has committed."""
        done: Future[None] = Future()
        self._queue.put((bundle, done))
        try:
            done.result(timeout=COMMIT_TIMEOUT_S)
        except TimeoutError:
            raise ServiceUnavailable("the decision store did not commit in time") from None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            while len(batch) < self._max:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._flush(batch)
                    return
                batch.append(nxt)
            self._flush(batch)

    def _flush(self, batch: list[tuple[Writes, Future[None]]]) -> None:
        try:
            self._write([b for b, _ in batch])
        except Exception:  # isolate the failing bundle; the others still commit
            for bundle, done in batch:
                try:
                    self._write([bundle])
                except Exception as exc:
                    done.set_exception(exc)
                else:
                    done.set_result(None)
            return
        for _, done in batch:
            done.set_result(None)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=COMMIT_TIMEOUT_S)
