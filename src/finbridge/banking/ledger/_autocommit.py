"""PostgreSQL: driver connections kept in autocommit for the one-statement posting.

A PostgreSQL movement is one autocommit statement (:func:`~._posting.post_standalone`).
Through the engine's pool each posting paid a checkout (the pool's bookkeeping and its
reset-on-return rollback), and two ``autocommit`` toggles on the driver connection; measured
on a single client, that was up to a quarter of the client's CPU per transfer
(docs/benchmarks.md, Ledger). So the posting path keeps a small stack of its own driver
connections, taken from the engine's pool once (same connect arguments) and left in
autocommit. At most :data:`LIMIT` are open per engine; a posting that finds none free while
that many are busy borrows from the pool as before. They are closed when the engine is
disposed, and one that failed is dropped (the next posting opens a fresh one).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

from finbridge.banking import forks

LIMIT = 8  # per engine: the posting statement is short, so a few connections serve many threads


class AutocommitConnections:
    """The posting connections of one engine in this process."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._free: list[Any] = []
        self._open = 0
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A driver connection in autocommit for one statement; dropped if the statement
        leaves it broken (the caller's exception propagates)."""
        driver, own = self._take()
        if not own or driver is None:  # every posting connection is busy: borrow one from the pool
            raw = self._engine.raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            driver.autocommit = True
            try:
                yield driver
            except BaseException as exc:
                if driver.closed:
                    raw.invalidate(exc if isinstance(exc, Exception) else None)
                raise
            finally:
                if not driver.closed:
                    driver.autocommit = False
                raw.close()
            return
        try:
            yield driver
        except BaseException:
            self._give(driver, broken=driver.closed)
            raise
        self._give(driver, broken=False)

    def close(self) -> None:
        with self._lock:
            free, self._free = self._free, []
            self._open -= len(free)
        for driver in free:
            driver.close()

    def _take(self) -> tuple[Any, bool]:
        with self._lock:
            if self._free:
                return self._free.pop(), True
            if self._open >= LIMIT:
                return None, False
            self._open += 1
        try:
            raw = self._engine.raw_connection()
            driver: Any = raw.driver_connection
            raw.detach()  # out of the pool for good, with the engine's connect arguments
            driver.autocommit = True
        except BaseException:
            with self._lock:
                self._open -= 1
            raise
        return driver, True

    def _give(self, driver: Any, *, broken: bool) -> None:
        if broken:
            with self._lock:
                self._open -= 1
            driver.close()
            return
        with self._lock:
            self._free.append(driver)


_BY_ENGINE: weakref.WeakKeyDictionary[Engine, tuple[int, AutocommitConnections]] = (
    weakref.WeakKeyDictionary()
)
_GUARD = threading.Lock()


def autocommit_connections(engine: Engine) -> AutocommitConnections:
    """The one :class:`AutocommitConnections` of ``engine`` in this process (a forked child
    opens its own: a connection is never shared across processes)."""
    with _GUARD:
        found = _BY_ENGINE.get(engine)
        if found is None or found[0] != forks.generation:
            connections = AutocommitConnections(engine)
            event.listen(engine, "engine_disposed", lambda _engine: connections.close())
            found = _BY_ENGINE[engine] = (forks.generation, connections)
        return found[1]
