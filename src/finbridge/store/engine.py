"""Engine and unit-of-work factory for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on. Writers open their transaction with
``BEGIN IMMEDIATE`` so concurrent writers queue on the database lock up front instead of
failing with "database is locked" when a read transaction tries to upgrade to a write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from finbridge.core.files import private_file

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, *, pool_size: int = 20, echo: bool = False) -> Engine:
    """Create an engine for ``url`` with the pragmas and pool the platform expects."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
        return create_engine(
            url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, echo=echo
        )
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
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

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
        if write and is_sqlite(engine):
            conn = conn.execution_options(sqlite_begin="IMMEDIATE")
        with Session(bind=conn, expire_on_commit=False, autoflush=False) as session:
            with conn.begin():
                yield session
                session.flush()
