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

Each of these connections runs its statements as :class:`PostingConnection`: prepared once by
name and then executed straight through libpq (psycopg's ``pgconn``), values sent as text and
typed by the statement's own casts and columns. psycopg's cursor path (parameter dumpers, the
prepared-statement cache's bookkeeping, the non-blocking wait loop, result loaders) cost about
as much client CPU as the rest of a transfer's Python; measured single client, same minutes,
144-170 us per statement through the cursor against 74-88 us this way (docs/benchmarks.md,
Ledger). A connection borrowed from the pool keeps psycopg's own path (it is not ours to
prepare statements on).
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg import errors, pq
from sqlalchemy import Engine, event

from finbridge.banking import forks

LIMIT = 8  # per engine: the posting statement is short, so a few connections serve many threads


_PARAM = re.compile(r"%\((\w+)\)s")


class _Prepared:
    """One statement in libpq's form: ``$n`` placeholders, the parameter names in their order
    and the name it is prepared under on every posting connection."""

    __slots__ = ("name", "names", "sql")

    def __init__(self, sql: str, number: int) -> None:
        names: list[str] = []

        def placeholder(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        self.sql = _PARAM.sub(placeholder, sql).replace("%%", "%").encode()
        self.names = tuple(names)
        self.name = f"finbridge_posting_{number}".encode()


_STATEMENTS: dict[str, _Prepared] = {}
_STATEMENTS_LOCK = threading.Lock()


def _prepared(sql: str) -> _Prepared:
    found = _STATEMENTS.get(sql)
    if found is None:
        with _STATEMENTS_LOCK:
            found = _STATEMENTS.setdefault(sql, _Prepared(sql, len(_STATEMENTS)))
    return found


def _text(value: object) -> bytes | None:
    """A parameter in PostgreSQL's text input format (the statement types it)."""
    if value is None:
        return None
    if value is True:
        return b"t"
    if value is False:
        return b"f"
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int):
        return str(value).encode()
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("a posting timestamp must carry its time zone")
        return value.isoformat().encode()
    raise TypeError(f"cannot send a {type(value).__name__} as a posting parameter")


_INTEGERS = frozenset((20, 21, 23))  # int8, int2, int4
_DECODE: dict[int, Callable[[bytes], object]] = {
    **{oid: int for oid in _INTEGERS},
    16: lambda raw: raw == b"t",  # bool
}


class _Rows:
    __slots__ = ("_rows",)

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows


class PostingConnection:
    """A driver connection in autocommit running statements prepared by name through libpq.

    ``execute(sql, params).fetchall()`` as on the driver: ``sql`` in psycopg's ``%(name)s``
    style, rows as tuples (integers and booleans decoded, everything else text or None).
    Errors are psycopg's own (:class:`psycopg.Error`, with the server's ``sqlstate``).
    """

    __slots__ = ("_encoding", "_prepared", "driver")

    def __init__(self, driver: Any) -> None:
        self.driver = driver
        self._prepared: set[bytes] = set()
        self._encoding: str = driver.info.encoding

    @property
    def closed(self) -> bool:
        return bool(self.driver.closed)

    def execute(self, sql: str, params: Mapping[str, Any]) -> _Rows:
        statement = _prepared(sql)
        pgconn = self.driver.pgconn
        if statement.name not in self._prepared:
            self._check(pgconn, pgconn.prepare(statement.name, statement.sql))
            self._prepared.add(statement.name)
        values = [_text(params[name]) for name in statement.names]
        result = pgconn.exec_prepared(statement.name, values)
        self._check(pgconn, result)
        decoders = [_DECODE.get(result.ftype(i)) for i in range(result.nfields)]
        encoding = self._encoding
        rows = []
        for r in range(result.ntuples):
            row: list[object] = []
            for c, decode in enumerate(decoders):
                raw = result.get_value(r, c)
                if raw is None:
                    row.append(None)
                elif decode is not None:
                    row.append(decode(raw))
                else:
                    row.append(raw.decode(encoding))
            rows.append(tuple(row))
        return _Rows(rows)

    def _check(self, pgconn: Any, result: Any) -> None:
        if result.status in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
            return
        if pgconn.status == pq.ConnStatus.BAD:  # the server went away: psycopg's error for it
            raise psycopg.OperationalError(pgconn.get_error_message() or "the connection is lost")
        raise errors.error_from_result(result, encoding=self._encoding)


class AutocommitConnections:
    """The posting connections of one engine in this process."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._free: list[PostingConnection] = []
        self._open = 0
        self._lock = threading.Lock()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection in autocommit for one statement (``execute(sql, params).fetchall()``):
        a :class:`PostingConnection`, or the pool's driver connection when all are busy; dropped
        if the statement leaves it broken (the caller's exception propagates)."""
        posting, own = self._take()
        if not own or posting is None:  # every posting connection is busy: borrow one from the pool
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
            yield posting
        except BaseException:
            self._give(posting, broken=posting.closed)
            raise
        self._give(posting, broken=False)

    def close(self) -> None:
        with self._lock:
            free, self._free = self._free, []
            self._open -= len(free)
        for posting in free:
            posting.driver.close()

    def _take(self) -> tuple[PostingConnection | None, bool]:
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
        return PostingConnection(driver), True

    def _give(self, posting: PostingConnection, *, broken: bool) -> None:
        if broken:
            with self._lock:
                self._open -= 1
            posting.driver.close()
            return
        with self._lock:
            self._free.append(posting)


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
