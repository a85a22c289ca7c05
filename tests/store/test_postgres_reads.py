"""PostgreSQL reads without needless round trips: a read-only unit of work runs in autocommit
(no BEGIN/ROLLBACK) and refuses writes; a pooled connection is pinged only after sitting idle,
so one the server closed meanwhile is replaced, not handed out."""

from __future__ import annotations

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from finbridge.store import engine as store_engine
from finbridge.store import make_engine, read_connection, unit_of_work


def _status(conn: object) -> TransactionStatus:
    return conn.connection.dbapi_connection.info.transaction_status  # type: ignore[attr-defined,no-any-return]


def test_reads_open_no_transaction_and_writes_do(pg_engine: Engine) -> None:
    with read_connection(pg_engine) as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
        assert _status(conn) is TransactionStatus.IDLE  # no BEGIN was sent
    with unit_of_work(pg_engine, write=False) as session:
        assert session.execute(text("SELECT 1")).scalar() == 1
        assert _status(session.connection()) is TransactionStatus.IDLE
    with unit_of_work(pg_engine) as session:
        session.execute(text("SELECT 1"))
        assert _status(session.connection()) is TransactionStatus.INTRANS  # writes stay atomic


def test_a_write_in_a_read_only_unit_is_refused_and_nothing_is_written(pg_engine: Engine) -> None:
    with pytest.raises(RuntimeError, match="a write in a read-only unit of work"):
        with read_connection(pg_engine) as conn:
            conn.execute(text("INSERT INTO banking_customers (id) VALUES ('x')"))
    with pytest.raises(RuntimeError, match="read-only"):
        with unit_of_work(pg_engine, write=False) as session:
            session.execute(text("DELETE FROM banking_customers"))
    with pg_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM banking_customers")).scalar() == 0


def _backend_pid(engine: Engine) -> int:
    with read_connection(engine) as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(url: str, pid: int) -> None:
    # From another database's session, as a restart or an idle timeout would.
    admin = make_engine(make_url(url).set(database="postgres").render_as_string(False))
    with admin.begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()


def test_an_idle_connection_the_server_closed_is_replaced(
    _pg_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = make_engine(_pg_database_url, pool_size=1)
    try:
        first = _backend_pid(engine)
        _terminate(_pg_database_url, first)
        monkeypatch.setattr(store_engine, "IDLE_PING_SECONDS", 0.0)  # it has been idle "long"
        assert _backend_pid(engine) != first  # pinged, found dead, a new one opened
    finally:
        engine.dispose()


def test_a_connection_used_just_now_is_not_pinged(_pg_database_url: str) -> None:
    # The trade-off, shown: within IDLE_PING_SECONDS a connection is trusted, so a server that
    # dropped it that very moment fails one statement (and the pool is invalidated).
    engine = make_engine(_pg_database_url, pool_size=1)
    try:
        _terminate(_pg_database_url, _backend_pid(engine))
        with pytest.raises(DBAPIError) as failed:
            _backend_pid(engine)
        assert failed.value.connection_invalidated
        assert _backend_pid(engine) > 0  # the next checkout connects afresh
    finally:
        engine.dispose()
