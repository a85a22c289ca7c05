"""Engine and unit-of-work factory for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on and a durable commit (``SQLITE_PRAGMAS``). Writers
open their transaction with ``BEGIN IMMEDIATE`` so concurrent writers queue on the database lock
up front instead of failing with "database is locked" when a read transaction tries to upgrade
to a write.

PostgreSQL: every round trip to the server is a wait that a loaded two-core machine turns into
milliseconds (the thread gives up the GIL and its core, then queues for both), so reads make
as few as they can. A pooled connection is pinged only when it sat idle for
``IDLE_PING_SECONDS`` (a ping before every checkout was one round trip per unit of work), and a
read-only unit of work (:func:`read_connection`) runs in autocommit: under READ COMMITTED each
statement reads its own snapshot whether or not a BEGIN came first, so the BEGIN and the
COMMIT/ROLLBACK around a read bought nothing but two round trips.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session

from finbridge.core.files import private_file

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Every SQLite connection's settings, in order; the ledger benchmark's plain-sqlite3 peer uses the
# same. synchronous=FULL: in WAL mode NORMAL skips the fsync at commit, so a transfer that was
# answered as posted can roll back after a power loss or an OS crash (SQLite's documentation of
# PRAGMA synchronous); a ledger must keep what it acknowledged, as PostgreSQL's default
# synchronous_commit=on does. Banking's group commit shares one fsync among the transfers
# waiting for the writer. temp_store=MEMORY: a multi-row write under triggers and foreign keys
# keeps a statement journal, which SQLite otherwise spills to a temporary file past 64 KiB; a
# posting batch did, opening, unlinking and writing one file per commit (kept in memory: 22%
# fewer write calls and 26% fewer bytes written per transfer, measured; docs/benchmarks.md).
SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=FULL",
    "foreign_keys=ON",
    "temp_store=MEMORY",
    f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
)
# A connection idle longer than this is pinged before use (a server restart or an idle-session
# timeout may have closed it); one used more recently is trusted and a failure on it is an error.
IDLE_PING_SECONDS = 5.0
_READ_ONLY = "finbridge_read_only"
_READ_VERBS = ("SELECT", "WITH", "SHOW")


def make_engine(url: str, *, pool_size: int = 20, echo: bool = False) -> Engine:
    """Create an engine for ``url`` with the pragmas and pool the platform expects."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return _postgres_engine(url, pool_size=pool_size, echo=echo)
    raise ValueError(f"unsupported database backend: {parsed.get_backend_name()}")


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        # Created 0600 in a 0700 folder before SQLite opens it; SQLite gives its -wal and -shm
        # files the database file's permissions.
        private_file(Path(database))
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        pool_size=20,
        max_overflow=20,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite so we can issue BEGIN IMMEDIATE ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _postgres_engine(url: str, *, pool_size: int, echo: bool) -> Engine:
    # LIFO: the busiest connections are reused (no ping), the spare ones age and get pinged.
    engine = create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_use_lifo=True, echo=echo
    )

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        record.info["finbridge_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("finbridge_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            # The pool drops this connection and checks out another (a fresh one if need be).
            raise DisconnectionError("idle connection is gone") from exc

    @event.listens_for(engine, "before_cursor_execute")
    def _read_only(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        # A read-only unit runs in autocommit: a write there would not roll back with it.
        if conn.get_execution_options().get(_READ_ONLY) and not (
            statement.lstrip()[:6].upper().startswith(_READ_VERBS)
        ):
            raise RuntimeError(f"a write in a read-only unit of work: {statement[:60]!r}")

    return engine


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def unit_of_work(engine: Engine, *, write: bool = True) -> Iterator[Session]:
    """One atomic transaction: commit on success, roll back on any exception.

    ``write=True`` takes SQLite's write lock at BEGIN; on PostgreSQL row locks are taken by the
    service (SELECT ... FOR UPDATE) where it needs them.
    """
    with engine.connect() as conn:
        conn = _writing(conn) if write else _reading(conn)
        with Session(bind=conn, expire_on_commit=False, autoflush=False) as session:
            with conn.begin():
                yield session
                session.flush()


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only (on PostgreSQL in autocommit: no BEGIN or ROLLBACK round
    trips; a write through it is refused). The statements see committed data, each its own
    snapshot, as a READ COMMITTED transaction's would."""
    with engine.connect() as conn:
        yield _reading(conn)


@contextmanager
def write_connection(engine: Engine) -> Iterator[Connection]:
    """One atomic write transaction on a bare connection, for a caller that goes below the
    ORM (statements through the driver, executemany): the same lock rule as
    :func:`unit_of_work`, commit on success, roll back on any exception."""
    with engine.connect() as conn, _writing(conn).begin() as tx:
        yield tx.connection


def _writing(conn: Connection) -> Connection:
    """SQLite takes its write lock at BEGIN (writers queue up front, no upgrade deadlock)."""
    if conn.dialect.name != "sqlite":
        return conn
    return conn.execution_options(sqlite_begin="IMMEDIATE")


def _reading(conn: Connection) -> Connection:
    if conn.dialect.name != "postgresql":
        return conn
    return conn.execution_options(isolation_level="AUTOCOMMIT", **{_READ_ONLY: True})
