"""SQLite: a movement and its event as one short transaction straight on the driver.

The analogue of PostgreSQL's :func:`~._posting.post_standalone`. SQLite has no writable CTEs,
so the entry is four statements (the guarded UPDATE of :mod:`._statements`, compiled from the
one rule; the postings; the sealing entry ``ON CONFLICT DO NOTHING``; the outbox row) in one
``BEGIN IMMEDIATE`` transaction, run on the pooled ``sqlite3`` connection itself: no Session,
no SQLAlchemy execution context per statement, and ``sqlite3`` keeps each statement prepared
per connection (the SQL text is the same every time). Values are converted by the columns' own
bind processors, so the rows are the ones the Core path writes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from finbridge.banking.ledger._connections import PostingConnections, posting_connections
from finbridge.banking.ledger._posting import (
    Applied,
    EntrySpec,
    KnownRefusal,
    Replay,
    balanced,
    leg_params,
    post_with_retries,
)
from finbridge.banking.ledger._rule import Leg
from finbridge.banking.ledger._statements import driver_sql, guarded_update
from finbridge.banking.tables import entries_table, postings_table, refusals_table
from finbridge.lake import Event, emit_driver

_ENTRY_COLUMNS = (
    "id",
    "kind",
    "idempotency_key",
    "request_fingerprint",
    "result",
    "description",
    "metadata",
    "actor_id",
    "created_at",
)

_REFUSED = f"SELECT 1 FROM {refusals_table.name} WHERE idempotency_key = ?"  # noqa: S608


@dataclass(frozen=True, slots=True)
class _Statements:
    """The driver SQL of one entry of ``n`` legs, compiled once per (dialect, n)."""

    update: str
    update_positions: tuple[str, ...]
    postings: str  # ``n`` rows of (entry_id, account_id, currency, amount, balance_after)
    entry: str
    created_at: Callable[[Any], Any]  # the DateTime column's own conversion


@cache
def _statements(dialect: Dialect, n: int) -> _Statements:
    update = driver_sql(guarded_update(dialect, n), dialect)
    assert update.positions is not None, "sqlite3 binds by position"
    rows = ", ".join(["(?, ?, ?, ?, ?)"] * n)
    postings = (
        f"INSERT INTO {postings_table.name} (entry_id, account_id, currency, amount_minor,"  # noqa: S608
        f" balance_after_minor) VALUES {rows}"
    )
    stmt = (
        sqlite.insert(entries_table)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(entries_table.c.id)
    )
    compiled = stmt.compile(dialect=dialect, column_keys=list(_ENTRY_COLUMNS))
    assert compiled.positiontup == list(_ENTRY_COLUMNS), compiled.positiontup
    convert = entries_table.c.created_at.type.dialect_impl(dialect).bind_processor(dialect)
    assert convert is not None
    return _Statements(update.sql, update.positions, postings, compiled.string, convert)


def warm_sqlite(dialect: Dialect) -> None:
    """Compile the statements of 1- and 2-leg entries and the outbox insert now."""
    for n in (1, 2):
        _statements(dialect, n)
    emit_driver(None, dialect)  # no events: only compiles the insert


def post_sqlite(
    engine: Engine,
    write_lock: AbstractContextManager[Any],
    legs: Sequence[Leg],
    spec: EntrySpec,
    event: Event,
    event_legs: tuple[str, str],
) -> list[Applied]:
    """Post ``legs``, seal ``spec`` and write ``event`` to the outbox, atomically.

    Raises :class:`KnownRefusal` (nothing written) if a refusal is stored under the key.
    As on PostgreSQL, ``event`` is validated here, before the write lock is taken, and the
    transaction fills in ``from_customer_id``/``to_customer_id`` (and the subject) from the
    rows of the accounts ``event_legs`` names as it moves them (an account's customer never
    changes; the column's type is the schema's ``str | None``). Raises :class:`Replay` if the
    idempotency key is taken, the rule's precise error if a leg is refused.
    """
    balanced(legs)
    work = _Work(
        legs=legs,
        spec=spec,
        sql=_statements(engine.dialect, len(legs)),
        event=event.validated(),
        event_legs=event_legs,
    )
    return post_with_retries(engine, legs, lambda: _attempt(engine, write_lock, work))


class _Work:
    """Everything one posting binds, computed once outside the write lock."""

    def __init__(
        self,
        *,
        legs: Sequence[Leg],
        spec: EntrySpec,
        sql: _Statements,
        event: Event,
        event_legs: tuple[str, str],
    ) -> None:
        self.legs, self.spec, self.sql = legs, spec, sql
        self.event, self.event_legs = event, event_legs
        params = leg_params(legs)
        self.update_args = tuple(params[name] for name in sql.update_positions)
        self.entry_args = (
            spec.entry_id,
            spec.kind,
            spec.scoped_key,
            spec.request_fingerprint,
            json.dumps(dict(spec.result)),
            spec.description,
            None if spec.metadata is None else json.dumps(dict(spec.metadata)),
            spec.actor_id,
            sql.created_at(spec.created_at),
        )

    def posted_event(self, owners: Mapping[str, str | None]) -> Event:
        src, dst = (owners[self.event_legs[0]], owners[self.event_legs[1]])
        payload = {**self.event.payload, "from_customer_id": src, "to_customer_id": dst}
        return replace(self.event, payload=payload, subject_id=src or dst)


def _attempt(
    engine: Engine, write_lock: AbstractContextManager[Any], work: _Work
) -> list[Applied] | None:
    """One try, in its own ``BEGIN IMMEDIATE`` transaction under the writer lock: the applied
    legs, or None if the rule refused a leg (nothing written).

    One posting, one transaction: group commit (the lock holder committing every queued
    posting) was measured and dropped, see docs/decisions.md, Banking.
    """
    pool = posting_connections(engine)
    with write_lock:
        return _commit(engine, pool, work)


def _commit(engine: Engine, pool: PostingConnections, work: _Work) -> list[Applied] | None:
    """Run one posting in one ``BEGIN IMMEDIATE`` transaction (the caller holds the lock)."""
    raw = None if pool.dedicated else engine.raw_connection()
    driver: Any = pool.connection() if raw is None else raw.driver_connection
    try:
        driver.execute("BEGIN IMMEDIATE")
        try:
            applied = _write(driver, engine.dialect, work)
        except BaseException:
            with suppress(Exception):  # the connection may be unusable; it is replaced below
                driver.rollback()
            raise
        if applied is None:
            driver.rollback()
            return None
        driver.commit()
    except engine.dialect.loaded_dbapi.Error as exc:
        if raw is None:
            pool.discard()  # a fresh connection next time, as the pool would invalidate it
        raise DBAPIError.instance(
            "posting", work.entry_args, exc, engine.dialect.loaded_dbapi.Error
        ) from exc
    finally:
        if raw is not None:
            raw.close()
    if raw is None:
        pool.committed(1)
    return applied


def _write(driver: Any, dialect: Dialect, work: _Work) -> list[Applied] | None:
    """The statements of one entry, in the open transaction; None if a leg was refused."""
    sql, spec = work.sql, work.spec
    # The key's first answer stands: a refusal stored under it wins (the stored result of a
    # posting comes back through the entry's ON CONFLICT below, as Replay).
    if driver.execute(_REFUSED, (spec.scoped_key,)).fetchone() is not None:
        raise KnownRefusal(spec.scoped_key)
    moved = {r[0]: (int(r[1]), r[2]) for r in driver.execute(sql.update, work.update_args)}
    if len(moved) < len(work.legs):
        return None  # a refusal stored under the key is found by the caller's explanation
    applied = []
    rows: list[Any] = []
    for leg in work.legs:
        balance, owner = moved[leg.account_id]
        applied.append(Applied(leg.account_id, leg.amount_minor, balance, owner))
        if leg.amount_minor != 0:
            rows += (spec.entry_id, leg.account_id, leg.currency, leg.amount_minor, balance)
    n = len(rows) // 5
    if n:
        insert_sql = sql.postings if n == len(work.legs) else _statements(dialect, n).postings
        driver.execute(insert_sql, rows)
    if driver.execute(sql.entry, work.entry_args).fetchone() is None:
        raise Replay(spec.scoped_key)
    event = work.posted_event({account: owner for account, (_, owner) in moved.items()})
    cursor = driver.cursor()
    try:
        emit_driver(cursor, dialect, event, validated=True)
    finally:
        cursor.close()
    return applied
