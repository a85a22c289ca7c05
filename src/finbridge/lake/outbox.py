"""Publish events transactionally: write them to the outbox in the caller's transaction.

Three doors, one row format: :func:`emit` on an ORM ``Session``, :func:`emit_on` on a Core
``Connection``, and :func:`emit_driver` on a raw DBAPI cursor for hot paths that run their
transaction straight on the driver (the insert is compiled once per dialect and values are
converted by the column types' own bind processors, so the stored row is the same).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from finbridge.lake.events import Event
from finbridge.lake.tables import OutboxRow

_OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]


def emit(session: Session, *events: Event) -> None:
    """Record ``events`` in the outbox as part of ``session``'s open transaction."""
    emit_many(session, events)


def emit_many(session: Session, events: Iterable[Event]) -> None:
    rows = outbox_rows(events)
    if rows:
        # A Core insert on the Table (not the ORM entity) skips the ORM's bulk-insert bookkeeping,
        # which dominated the cost of seeding tens of thousands of events.
        session.execute(insert(_OUTBOX), rows)


def emit_on(conn: Connection, *events: Event) -> None:
    """Record ``events`` in the outbox as part of ``conn``'s open transaction (no ORM)."""
    rows = outbox_rows(events)
    if rows:
        conn.execute(insert(_OUTBOX), rows)


def emit_driver(cursor: Any, dialect: Dialect, *events: Event, validated: bool = False) -> None:
    """Record ``events`` through a DBAPI ``cursor`` whose transaction the caller runs.

    ``validated=True`` says each payload is already the output of :meth:`Event.validated`
    (a hot path validates before taking its write lock and fills in only database-sourced
    values of the schema's own types); otherwise the payloads are validated here.
    """
    compiled = _driver_insert(dialect)
    rows = [compiled.bind(row) for row in outbox_rows(events, validated=validated)]
    if not compiled.positional:  # psycopg: executemany is pipelined, one round trip
        if len(rows) == 1:
            cursor.execute(compiled.sql, rows[0])
        elif rows:
            cursor.executemany(compiled.sql, rows)
        return
    # sqlite3 steps an executemany once per row and hands Python's GIL away at every step (a
    # posting batch's leader, holding the writer lock, then waits for it): one multi-row INSERT
    # is one step.
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        cursor.execute(_multi_row(compiled.sql, len(chunk)), [v for row in chunk for v in row])


def outbox_rows(events: Iterable[Event], *, validated: bool = False) -> list[dict[str, Any]]:
    """The outbox rows of ``events``, each payload validated by its schema (unless the caller
    says it already was)."""
    return [
        {
            "event_id": e.event_id,
            "event_type": e.event_type,
            "schema_version": e.schema_version,
            "occurred_at": e.occurred_at,
            "subject_id": e.subject_id,
            "source": e.source,
            "payload": e.payload if validated else e.validated().payload,
        }
        for e in events
    ]


_COLUMNS = (
    "event_id",
    "event_type",
    "schema_version",
    "occurred_at",
    "subject_id",
    "source",
    "payload",
)


@dataclass(frozen=True, slots=True)
class _DriverInsert:
    sql: str
    names: tuple[str, ...]
    positional: bool
    processors: Mapping[str, Callable[[Any], Any]]

    def bind(self, row: dict[str, Any]) -> Any:
        values = {}
        for name in self.names:
            value = row[name]
            convert = self.processors.get(name)
            values[name] = value if convert is None or value is None else convert(value)
        return tuple(values[n] for n in self.names) if self.positional else values


# Rows per multi-row INSERT: 7 values a row, well inside SQLite's 32,766 bound parameters.
_ROWS_PER_INSERT = 500


@lru_cache(maxsize=64)  # one text per row count: bounded, as counts up to 500 can occur
def _multi_row(sql: str, n: int) -> str:
    """``sql`` (one row of ``?`` marks) with its VALUES row repeated ``n`` times."""
    head, _, row = sql.partition(" VALUES ")
    return f"{head} VALUES {', '.join([row] * n)}"


@cache
def _driver_insert(dialect: Dialect) -> _DriverInsert:
    compiled = insert(_OUTBOX).compile(dialect=dialect, column_keys=list(_COLUMNS))
    processors: dict[str, Callable[[Any], Any]] = {}
    for name in _COLUMNS:
        convert = _OUTBOX.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if convert is not None:
            processors[name] = convert
    positions = compiled.positiontup
    names = tuple(positions) if positions is not None else _COLUMNS
    return _DriverInsert(compiled.string, names, positions is not None, processors)
