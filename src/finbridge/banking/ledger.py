"""The posting engine: Core statements on an open connection, no ORM in the hot path.

A journal entry is written as: one guarded ``UPDATE ... RETURNING`` per account (in account-id
order, so concurrent transactions lock rows in the same order and cannot deadlock), one
multi-row INSERT of the postings, then the entry row with ``ON CONFLICT (idempotency_key) DO
NOTHING``. The UPDATE is the row lock (PostgreSQL takes it as SELECT ... FOR UPDATE would) and its
WHERE clause is the business check, so the common case costs one round trip per account. When an
UPDATE matches no row, :func:`diagnose` reads the account once to say precisely why.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.numeric import Int8
from sqlalchemy import Connection, Engine, Insert, TextClause, bindparam, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError

from finbridge.banking.tables import accounts_table, entries_table, postings_table
from finbridge.core.errors import (
    AccountNotActive,
    CurrencyMismatch,
    InsufficientFunds,
    NotFound,
)
from finbridge.core.money import Money

accounts = accounts_table
entries = entries_table
postings = postings_table


class Replay(Exception):
    """The idempotency key was already used: roll back and return the stored result."""


@dataclass(frozen=True, slots=True)
class Leg:
    """One side of an entry: a signed amount (positive credits the account).

    ``release_held`` is taken off the account's held amount in the same UPDATE (hold capture).
    ``owner`` restricts a debit to accounts of that customer (customers acting for themselves).
    """

    account_id: str
    amount_minor: int
    release_held: int = 0
    owner: str | None = None


@dataclass(frozen=True, slots=True)
class Applied:
    account_id: str
    amount_minor: int
    balance_after: int
    customer_id: str | None


# Debits: the account must be open and stay at or above its floor (unless flagged internal).
_DEBIT = (
    update(accounts)
    .where(
        accounts.c.id == bindparam("b_id"),
        accounts.c.currency == bindparam("b_cur"),
        accounts.c.status == "open",
        accounts.c.held_minor >= bindparam("b_rel"),
        accounts.c.allow_negative
        | (
            accounts.c.balance_minor
            - accounts.c.held_minor
            + bindparam("b_amt")
            + bindparam("b_rel")
            >= accounts.c.floor_minor
        ),
    )
    .values(
        balance_minor=accounts.c.balance_minor + bindparam("b_amt"),
        held_minor=accounts.c.held_minor - bindparam("b_rel"),
    )
    .returning(accounts.c.balance_minor, accounts.c.customer_id)
)

# Credits: frozen accounts still receive money; closed ones do not.
_CREDIT = (
    update(accounts)
    .where(
        accounts.c.id == bindparam("b_id"),
        accounts.c.currency == bindparam("b_cur"),
        accounts.c.status != "closed",
    )
    .values(balance_minor=accounts.c.balance_minor + bindparam("b_amt"))
    .returning(accounts.c.balance_minor, accounts.c.customer_id)
)

_ACCOUNT_STATE = select(
    accounts.c.customer_id,
    accounts.c.currency,
    accounts.c.status,
    accounts.c.balance_minor,
    accounts.c.held_minor,
    accounts.c.floor_minor,
).where(accounts.c.id == bindparam("b_id"))


def fingerprint(*parts: Any) -> str:
    """A stable hash of a request, to tell a retry from a different request with the same key."""
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def insert_ignoring_conflict(conn: Connection, table: Any, key_column: str | None = None) -> Insert:
    """``INSERT ... ON CONFLICT [(key)] DO NOTHING`` in the connection's dialect."""
    target = None if key_column is None else [key_column]
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=target)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=target)


def apply_legs(conn: Connection, currency: str, legs: Sequence[Leg]) -> list[Applied]:
    """Move balances for ``legs`` (in account-id order), or raise the business error why not."""
    out: list[Applied] = []
    for leg in sorted(legs, key=lambda g: g.account_id):
        params = {"b_id": leg.account_id, "b_cur": currency, "b_amt": leg.amount_minor}
        if leg.amount_minor < 0 or leg.release_held:
            row = conn.execute(_DEBIT, {**params, "b_rel": leg.release_held}).first()
        else:
            row = conn.execute(_CREDIT, params).first()
        if row is None or (leg.owner is not None and row.customer_id != leg.owner):
            diagnose(conn, leg, currency)
            raise NotFound("account not found", field="account_id")  # owner mismatch
        out.append(Applied(leg.account_id, leg.amount_minor, row.balance_minor, row.customer_id))
    return out


def diagnose(conn: Connection, leg: Leg, currency: str) -> None:
    """Raise the precise reason a guarded UPDATE matched nothing (never reveals others' data)."""
    row = conn.execute(_ACCOUNT_STATE, {"b_id": leg.account_id}).first()
    if row is None or (leg.owner is not None and row.customer_id != leg.owner):
        raise NotFound(f"account {leg.account_id} not found", field="account_id")
    if row.currency != currency:
        raise CurrencyMismatch(
            f"account {leg.account_id} holds {row.currency}, not {currency}", field="currency"
        )
    debit = leg.amount_minor < 0 or leg.release_held != 0
    if row.status == "closed" or (debit and row.status != "open"):
        raise AccountNotActive(
            f"account {leg.account_id} is {row.status}", field="account_id", status=row.status
        )
    if debit:
        available = Money.from_minor(row.balance_minor - row.held_minor, currency)
        raise InsufficientFunds(
            f"account {leg.account_id} has {available} available",
            field="amount",
            available=str(available.amount),
        )


def insert_postings(conn: Connection, entry_id: str, currency: str, applied: list[Applied]) -> None:
    conn.execute(
        postings.insert(),
        [
            {
                "entry_id": entry_id,
                "account_id": a.account_id,
                "currency": currency,
                "amount_minor": a.amount_minor,
                "balance_after_minor": a.balance_after,
            }
            for a in applied
        ],
    )


@dataclass(frozen=True, slots=True)
class EntrySpec:
    """The journal entry row that seals a set of postings."""

    entry_id: str
    kind: str
    scoped_key: str
    request_fingerprint: str
    result: Mapping[str, Any]
    description: str
    metadata: Mapping[str, Any] | None
    actor_id: str
    created_at: datetime

    def row(self) -> dict[str, Any]:
        return {
            "id": self.entry_id,
            "kind": self.kind,
            "idempotency_key": self.scoped_key,
            "request_fingerprint": self.request_fingerprint,
            "result": dict(self.result),
            "description": self.description,
            "metadata": dict(self.metadata) if self.metadata else None,
            "actor_id": self.actor_id,
            "created_at": self.created_at,
        }


def seal_entry(conn: Connection, spec: EntrySpec) -> None:
    """Insert the entry row after its postings; raise :class:`Replay` if the key exists."""
    stmt = insert_ignoring_conflict(conn, entries, "idempotency_key").returning(entries.c.id)
    if conn.execute(stmt, spec.row()).first() is None:
        raise Replay(spec.scoped_key)


def post_entry(
    conn: Connection, currency: str, legs: Sequence[Leg], spec: EntrySpec
) -> list[Applied]:
    """Move balances, write the postings and seal the entry, or raise why not.

    SQLite (in-process, no round trips): one guarded UPDATE per leg, one INSERT of the
    postings, the entry INSERT. PostgreSQL: the same statements as one data-modifying CTE, so a
    transfer is a single round trip; see :func:`_post_entry_pg`.
    """
    if conn.dialect.name == "postgresql":
        return _post_entry_pg(conn, currency, legs, spec)
    applied = _apply_legs_sqlite(conn, currency, legs)
    insert_postings(conn, spec.entry_id, currency, applied)
    seal_entry(conn, spec)
    return applied


_SQLITE_UPDATE: dict[int, TextClause] = {}


def _apply_legs_sqlite(conn: Connection, currency: str, legs: Sequence[Leg]) -> list[Applied]:
    """All legs in one ``UPDATE ... FROM`` (SQLite 3.33+); same guard as :data:`_DEBIT`.

    The transaction already holds SQLite's write lock, so the order of rows does not matter.
    """
    n = len(legs)
    if n not in _SQLITE_UPDATE:
        values = " UNION ALL ".join(
            f"SELECT :id{i} AS id, :d{i} AS delta, :r{i} AS rel, :o{i} AS owner" for i in range(n)
        )
        # Only the leg count is formatted into the SQL; every value is a bound parameter.
        _SQLITE_UPDATE[n] = text(
            f"""
UPDATE banking_accounts AS a
SET balance_minor = a.balance_minor + v.delta, held_minor = a.held_minor - v.rel
FROM ({values}) AS v
WHERE a.id = v.id AND a.currency = :cur
  AND CASE WHEN v.delta < 0 OR v.rel <> 0 THEN
        a.status = 'open' AND a.held_minor >= v.rel
        AND (a.allow_negative
             OR a.balance_minor - a.held_minor + v.delta + v.rel >= a.floor_minor)
        AND (v.owner IS NULL OR a.customer_id = v.owner)
      ELSE a.status <> 'closed' END
RETURNING id, balance_minor, customer_id
"""  # noqa: S608
        )
    params: dict[str, Any] = {"cur": currency}
    for i, leg in enumerate(legs):
        params.update(
            {f"id{i}": leg.account_id, f"d{i}": leg.amount_minor, f"r{i}": leg.release_held}
        )
        params[f"o{i}"] = leg.owner
    rows = {r.id: r for r in conn.execute(_SQLITE_UPDATE[n], params)}
    out = []
    for leg in legs:
        row = rows.get(leg.account_id)
        if row is None:
            diagnose(conn, leg, currency)
            raise NotFound("account not found", field="account_id")
        out.append(Applied(leg.account_id, leg.amount_minor, row.balance_minor, row.customer_id))
    return out


_PG_CTE: dict[int, TextClause] = {}


def _pg_statement(n: int) -> TextClause:
    """The single-statement posting for ``n`` legs (cached per leg count).

    ``locked`` takes the row locks in account-id order (LockRows sits above the sort), and the
    UPDATE depends on it, so concurrent postings lock in one global order and cannot deadlock.
    The guard in the UPDATE's WHERE clause is the business check, exactly as in
    :data:`_DEBIT`/:data:`_CREDIT`. Postings are inserted only if every leg matched, and the
    entry only if postings were inserted; counting them (not EXISTS) makes every posting go in
    before the entry, as the seal trigger requires. The caller rolls back whatever half matched.
    """
    if n not in _PG_CTE:
        values = ", ".join(
            f"(CAST(:id{i} AS varchar), CAST(:d{i} AS bigint), CAST(:r{i} AS bigint),"
            f" CAST(:o{i} AS varchar), {i})"
            for i in range(n)
        )
        _PG_CTE[n] = text(
            f"""
WITH v(id, delta, rel, owner, ord) AS (VALUES {values}),
locked AS (
  SELECT a.id FROM banking_accounts AS a JOIN v ON a.id = v.id ORDER BY a.id FOR UPDATE OF a
),
moved AS (
  UPDATE banking_accounts AS a
  SET balance_minor = a.balance_minor + v.delta, held_minor = a.held_minor - v.rel
  FROM v JOIN locked ON locked.id = v.id
  WHERE a.id = v.id AND a.currency = :cur
    AND CASE WHEN v.delta < 0 OR v.rel <> 0 THEN
          a.status = 'open' AND a.held_minor >= v.rel
          AND (a.allow_negative
               OR a.balance_minor - a.held_minor + v.delta + v.rel >= a.floor_minor)
          AND (v.owner IS NULL OR a.customer_id = v.owner)
        ELSE a.status <> 'closed' END
  RETURNING a.id, a.balance_minor, a.customer_id, v.delta, v.ord
),
posted AS (
  INSERT INTO banking_postings
    (entry_id, account_id, currency, amount_minor, balance_after_minor)
  SELECT :entry_id, id, :cur, delta, balance_minor FROM moved
  WHERE delta <> 0 AND (SELECT count(*) FROM moved) = {n}
  ORDER BY ord
  RETURNING 1
),
sealed AS (
  INSERT INTO banking_journal_entries (id, kind, idempotency_key, request_fingerprint, result,
    description, metadata, actor_id, created_at)
  SELECT :entry_id, :kind, :idempotency_key, :request_fingerprint, CAST(:result AS json),
    :description, CAST(:metadata AS json), :actor_id, :created_at
  WHERE (SELECT count(*) FROM posted) > 0
  ON CONFLICT (idempotency_key) DO NOTHING
  RETURNING id
)
SELECT id, balance_minor, customer_id, delta, (SELECT count(*) FROM sealed) AS sealed
FROM moved ORDER BY ord
"""  # noqa: S608
        )
    return _PG_CTE[n]


def _post_entry_pg(
    conn: Connection, currency: str, legs: Sequence[Leg], spec: EntrySpec
) -> list[Applied]:
    ordered = sorted(legs, key=lambda g: g.account_id)
    params: dict[str, Any] = {"cur": currency}
    for i, leg in enumerate(ordered):
        params[f"id{i}"] = leg.account_id
        params[f"d{i}"] = leg.amount_minor
        params[f"r{i}"] = leg.release_held
        params[f"o{i}"] = leg.owner
    row = spec.row()
    row["result"] = json.dumps(row["result"])
    row["metadata"] = None if row["metadata"] is None else json.dumps(row["metadata"])
    params.update(row)
    params["entry_id"] = params.pop("id")
    rows = conn.execute(_pg_statement(len(ordered)), params).all()
    if len(rows) < len(ordered):
        matched = {r.id for r in rows}
        for leg in ordered:
            if leg.account_id not in matched:
                diagnose(conn, leg, currency)
                raise NotFound("account not found", field="account_id")
    if rows[0].sealed == 0:
        raise Replay(spec.scoped_key)
    return [Applied(r.id, r.delta, r.balance_minor, r.customer_id) for r in rows]


def stored_entry(conn: Connection, scoped_key: str) -> tuple[str, dict[str, Any]] | None:
    """(fingerprint, result) stored under ``scoped_key``, if that key was used."""
    row = conn.execute(
        select(entries.c.request_fingerprint, entries.c.result).where(
            entries.c.idempotency_key == scoped_key
        )
    ).first()
    return None if row is None else (row.request_fingerprint, row.result)


# ---------------------------------------------------------------------- PostgreSQL two-leg path
# One statement, run in autocommit so it is its own transaction: one network round trip per
# transfer instead of BEGIN + posting + outbox INSERT + COMMIT (see banking_0002_post_pair.py).
_POST_PAIR_SQL = (
    "SELECT banking_post_pair(%s, %s, %s, %s, %s::json, %s, %s::json, %s, %s, %s, %s, %s,"
    " %s::bigint, %s, %s, %s, %s, %s, %s, %s)"
)


@dataclass(frozen=True, slots=True)
class PairEvent:
    """What the function needs to write the ``transaction.posted`` outbox row itself."""

    event_id: str
    occurred_at: datetime
    amount_text: str
    channel: str | None
    merchant: str | None


def post_pair_pg(
    engine: Engine,
    currency: str,
    debit: Leg,
    credit: Leg,
    spec: EntrySpec,
    customers_only: bool,
    event: PairEvent,
) -> None:
    """Post ``debit``/``credit`` with :func:`banking_post_pair`, or raise the business error.

    Raises :class:`Replay` when the idempotency key is already used, the same errors as
    :func:`diagnose` when a guarded UPDATE matched nothing, and ``NotFound`` for the bank's own
    accounts when ``customers_only``. Anything else comes back as SQLAlchemy's DBAPIError.
    """
    params = (
        spec.entry_id, spec.kind, spec.scoped_key, spec.request_fingerprint,
        json.dumps(dict(spec.result)), spec.description,
        None if not spec.metadata else json.dumps(dict(spec.metadata)),
        spec.actor_id, spec.created_at, currency, debit.account_id, credit.account_id,
        Int8(credit.amount_minor), debit.owner, customers_only, event.event_id,
        event.occurred_at, event.amount_text, event.channel, event.merchant,
    )  # fmt: skip
    raw = engine.raw_connection()
    try:
        dbapi: psycopg.Connection[Any] = raw.driver_connection  # type: ignore[assignment]
        dbapi.autocommit = True
        try:
            dbapi.execute(_POST_PAIR_SQL, params).fetchall()
        except psycopg.Error as exc:
            state = exc.sqlstate
            if state == "FBDUP":
                raise Replay(spec.scoped_key) from None
            if state == "FBINT":
                field = exc.diag.message_detail or "account_id"
                raise NotFound(
                    f"account {exc.diag.message_primary} not found", field=field
                ) from None
            if state == "FBLEG":
                failed = debit if exc.diag.message_primary == debit.account_id else credit
                with engine.connect() as conn:
                    diagnose(conn, failed, currency)
                raise NotFound("account not found", field="account_id") from None
            if isinstance(exc, psycopg.OperationalError) and dbapi.closed:
                raw.invalidate(exc)
            raise DBAPIError.instance(_POST_PAIR_SQL, params, exc, psycopg.Error) from exc
        finally:
            if not dbapi.closed:
                dbapi.autocommit = False
    finally:
        raw.close()
