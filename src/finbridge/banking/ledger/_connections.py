"""SQLite posting connections, and their WAL checkpoints off the commit path.

Measured (docs/benchmarks.md, Ledger): a transfer writes ~14 WAL frames, so SQLite's automatic
checkpoint (every 1,000 frames, run inside the COMMIT of whichever writer crosses the mark,
copying every page to the database file and syncing it) cost ~0.34 ms per transfer, more than
the rest of the transfer, and stalled every queued writer while it ran.

So the posting path writes on a connection of its own, taken once from the engine's pool (same
pragmas; one per process, used by one group-commit leader at a time) with
``wal_autocheckpoint=0``, and a checkpointer thread runs ``PRAGMA wal_checkpoint(PASSIVE)`` on
its own connection every :data:`_COMMITS_PER_CHECKPOINT` commits. A passive checkpoint never
blocks writers or readers; the WAL restarts from its beginning after a complete one, as with
the automatic checkpoint. Other packages' connections keep the automatic checkpoint. The
thread exits after :data:`_IDLE_SECONDS` without commits (checkpointing once more), so an idle
service holds no thread; the next commit starts it.
In-memory databases (one shared connection) keep the pool and the automatic checkpoint.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from sqlalchemy import Engine

from finbridge.banking import forks

log = logging.getLogger("finbridge.banking")

# Postings between checkpoints: ~2 group-commit batches, ~120 WAL frames (7.6 a transfer with
# 8 posting threads, counted in the WAL of a run without checkpoints). Measured with
# durable commits and batches of ~7.6 (docs/benchmarks.md, Ledger, session 10): 16 gave 5-14%
# more transfers/s than 48 in 5 of 6 alternated runs, and a lower p99.
_COMMITS_PER_CHECKPOINT = 16
_IDLE_SECONDS = 2.0


class PostingConnections:
    """The posting path's driver connection of one engine, and its checkpointer."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        database = engine.url.database
        self.dedicated = bool(database) and database != ":memory:"
        self._driver: tuple[Any, int] = (None, forks.generation)
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._commits = 0
        self._thread: threading.Thread | None = None
        self._generation = forks.generation

    def connection(self) -> Any:
        """The process's posting ``sqlite3`` connection (no automatic checkpoint).

        One, not one per thread: only the group commit's leader posts, one leader at a time
        (:mod:`._group`), so one connection suffices, and its page cache stays warm. With a
        connection per thread, each leader's connection found the database changed by the
        previous leader's and began its transaction with an emptied page cache, reading every
        b-tree page it touched back through the WAL index and the OS.
        """
        driver, generation = self._driver
        if driver is None or generation != forks.generation:
            driver = self._detached()
            driver.execute("PRAGMA wal_autocheckpoint=0")
            self._driver = (driver, forks.generation)
        return driver

    def discard(self) -> None:
        """Drop the connection (after a driver error it may be unusable)."""
        driver, _ = self._driver
        self._driver = (None, forks.generation)
        if driver is not None:
            try:
                driver.close()
            except Exception:  # closing a broken connection is best effort
                log.debug("closing a posting connection failed", exc_info=True)

    def committed(self, postings: int = 1) -> None:
        """Count committed postings; wake (or start) the checkpointer when enough are waiting."""
        with self._lock:
            self._commits += postings
            if self._thread is None or self._generation != forks.generation:
                self._generation = forks.generation
                self._thread = threading.Thread(
                    target=self._checkpoints, name="finbridge-banking-checkpoint", daemon=True
                )
                self._thread.start()
            elif self._commits >= _COMMITS_PER_CHECKPOINT:
                self._wake.notify()

    def _detached(self) -> Any:
        # Out of the pool for good: its pragmas (WAL, foreign keys, busy timeout) came with it.
        raw = self._engine.raw_connection()
        driver = raw.driver_connection
        raw.detach()
        return driver

    def _checkpoints(self) -> None:
        driver = None
        try:
            # Inside the try: failing to connect (the file unreadable or gone) is logged like a
            # failed checkpoint instead of ending the thread with an unhandled exception.
            driver = self._detached()
            while True:
                with self._lock:
                    if self._commits < _COMMITS_PER_CHECKPOINT:
                        self._wake.wait(_IDLE_SECONDS)
                    pending, self._commits = self._commits, 0
                    if pending == 0:
                        self._thread = None  # idle: the next commit starts a new thread
                        return
                driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except Exception:  # other writers still checkpoint automatically
            log.exception("banking WAL checkpoint failed")
            with self._lock:
                self._thread = None
        finally:
            if driver is not None:
                driver.close()


_BY_ENGINE: weakref.WeakKeyDictionary[Engine, PostingConnections] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def posting_connections(engine: Engine) -> PostingConnections:
    """The one :class:`PostingConnections` of ``engine`` in this process."""
    with _GUARD:
        found = _BY_ENGINE.get(engine)
        if found is None:
            found = _BY_ENGINE[engine] = PostingConnections(engine)
        return found
