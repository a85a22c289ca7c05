"""Queue SQLite writers on locks that wake the next waiter, instead of SQLite's busy handler.

SQLite admits one writer; a blocked ``BEGIN IMMEDIATE`` sleeps in the busy handler with a
back-off of 1, 2, 5, 10 ... ms, so under contention most time is spent asleep while the lock is
free. Threads of one process queue on a ``threading.Lock``; processes on an exclusive ``flock``
on a file next to the database, which the kernel hands to the next waiter at once. Correctness
never depends on this lock (``BEGIN IMMEDIATE`` still serialises writers); it only removes the
sleeping. PostgreSQL needs none of it.
"""

from __future__ import annotations

import os
import threading
import weakref
from types import TracebackType

from sqlalchemy import Engine

from finbridge.banking import forks

try:  # POSIX only; elsewhere threads still queue and processes fall back to the busy handler
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]


class SQLiteWriterLock:
    def __init__(self, database: str | None) -> None:
        self._threads = threading.Lock()
        in_memory = not database or database == ":memory:"
        self._path = None if in_memory or fcntl is None else f"{database}.writer-lock"
        self._fd: int | None = None
        self._generation = forks.generation

    def __enter__(self) -> None:
        self._threads.acquire()
        if self._path is None:
            return
        try:
            if self._fd is None or self._generation != forks.generation:
                # After fork the descriptor (and its lock) is shared with the parent: reopen.
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
                self._generation = forks.generation
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._fd is not None and self._path is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


_LOCKS: weakref.WeakKeyDictionary[Engine, SQLiteWriterLock] = weakref.WeakKeyDictionary()
_GUARD = threading.Lock()


def writer_lock(engine: Engine) -> SQLiteWriterLock:
    """The one writer lock of ``engine`` in this process."""
    with _GUARD:
        lock = _LOCKS.get(engine)
        if lock is None:
            lock = _LOCKS[engine] = SQLiteWriterLock(engine.url.database)
        return lock
