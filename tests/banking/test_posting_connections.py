"""PostgreSQL posting connections run the posting statement prepared by name through libpq:
values typed by the statement, rows decoded, the server's refusals as psycopg errors with their
SQLSTATE (the posting path maps FBDUP/FBLEG/FBREF from them), each statement prepared once per
connection. No tables are written, so the database is not truncated afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import Engine

from finbridge.banking.ledger._autocommit import autocommit_connections
from finbridge.store import make_engine

_SQL = (
    "SELECT CAST(%(n)s AS bigint) AS n, CAST(%(flag)s AS boolean) AS flag, %(s)s::text AS s,"
    " CAST(%(at)s AS timestamptz) = CAST('2026-11-02 01:30:00+00' AS timestamptz) AS at_ok,"
    " CAST(%(none)s AS varchar) AS none, %(s)s::text || '!' AS again"
)
_PARAMS = {
    "n": -(2**62),
    "flag": False,
    "s": "åb'c",
    "at": datetime(2026, 11, 2, 1, 30, tzinfo=UTC),
}


@pytest.fixture
def pg(_pg_database_url: str) -> Iterator[Engine]:
    engine = make_engine(_pg_database_url)
    yield engine
    engine.dispose()


def test_values_round_trip_typed(pg: Engine) -> None:
    with autocommit_connections(pg).connection() as conn:
        rows = conn.execute(_SQL, {**_PARAMS, "none": None}).fetchall()
    assert rows == [(-(2**62), False, "åb'c", True, None, "åb'c!")]


def test_a_statement_is_prepared_once_per_connection(pg: Engine) -> None:
    connections = autocommit_connections(pg)
    with connections.connection() as conn:
        for n in (1, 2, 3):
            assert conn.execute(_SQL, {**_PARAMS, "n": n, "none": "x"}).fetchall()[0][0] == n
        prepared = conn.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %(p)s",
            {"p": "%CAST($1 AS bigint)%"},
        ).fetchall()
    assert prepared == [(1,)]


def test_a_refusal_raised_by_the_statement_keeps_its_sqlstate(pg: Engine) -> None:
    connections = autocommit_connections(pg)
    with pytest.raises(psycopg.Error) as refused:
        with connections.connection() as conn:
            conn.execute("SELECT banking_refuse('FBDUP', %(key)s)", {"key": "k-1"}).fetchall()
    assert refused.value.sqlstate == "FBDUP"
    assert "k-1" in str(refused.value)
    with connections.connection() as conn:  # the connection stays usable after a refusal
        assert conn.execute("SELECT %(x)s::int + 1", {"x": 1}).fetchall() == [(2,)]


def test_a_value_without_a_text_form_is_refused_before_sending(pg: Engine) -> None:
    with autocommit_connections(pg).connection() as conn:
        with pytest.raises(TypeError, match="time zone"):
            conn.execute(_SQL, {**_PARAMS, "at": datetime(2026, 11, 2), "none": None})
        with pytest.raises(TypeError, match="float"):
            conn.execute(_SQL, {**_PARAMS, "n": 1.5, "none": None})
