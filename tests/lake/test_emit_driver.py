"""``emit_driver`` (a raw DBAPI cursor, banking's SQLite posting path, the risk store) stores the
same outbox rows as the Core path, however many events one call writes: on SQLite they go in as
multi-row INSERTs of at most 500 rows, on PostgreSQL as one pipelined ``executemany``."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from finbridge.lake import Event, emit_driver, emit_on
from finbridge.lake.tables import OutboxRow

from .conftest import T0

_COLUMNS = ("event_type", "schema_version", "occurred_at", "subject_id", "source", "payload")


def _logins(n: int, tag: str) -> list[Event]:
    return [
        Event(
            "login",
            T0 + timedelta(seconds=i),
            {"method": "totp", "success": i % 3 != 0},
            "test",
            None if i % 7 == 0 else f"{tag}-{i}",
        )
        for i in range(n)
    ]


def _stored(engine: Engine) -> dict[str, tuple[object, ...]]:
    table = OutboxRow.__table__
    with engine.connect() as conn:
        return {
            row.event_id: tuple(getattr(row, c) for c in _COLUMNS)
            for row in conn.execute(select(table))  # type: ignore[arg-type]
        }


@pytest.mark.parametrize("n", [1, 2, 1201])
def test_driver_rows_equal_core_rows(engine: Engine, n: int) -> None:
    core, driver = _logins(n, "core"), _logins(n, "driver")
    with engine.begin() as conn:
        emit_on(conn, *core)
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        if engine.dialect.name == "sqlite":
            cursor.execute("BEGIN IMMEDIATE")
        emit_driver(cursor, engine.dialect, *driver)
        raw.driver_connection.commit()  # type: ignore[union-attr]
        cursor.close()
    finally:
        raw.close()
    stored = _stored(engine)
    assert len(stored) == 2 * n
    for mine, theirs in zip(core, driver, strict=True):
        got_core, got_driver = stored[mine.event_id], stored[theirs.event_id]
        # Same row but the subject, which differs by construction ("core-i" / "driver-i").
        assert got_core[:3] + got_core[4:] == got_driver[:3] + got_driver[4:]
        assert (got_core[3] is None) == (got_driver[3] is None)


def test_an_invalid_payload_writes_nothing(engine: Engine) -> None:
    bad = [*_logins(3, "ok"), Event("login", T0, {"method": 7}, "test", "x")]
    raw = engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        with pytest.raises(Exception, match="method"):
            emit_driver(cursor, engine.dialect, *bad)
        cursor.close()
    finally:
        raw.close()
    assert _stored(engine) == {}
