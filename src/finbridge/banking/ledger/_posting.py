"""Posting journal entries: Core statements on an open connection, no ORM in the hot path.

Two ways to run the same statements of :mod:`._statements`:

* :func:`post_entry` inside the caller's transaction (both dialects): guarded update, postings,
  sealing entry; the caller writes its events through the outbox in the same transaction.
* :func:`post_standalone` (PostgreSQL only): the entry *and* its ``transaction.posted`` outbox
  row as one autocommit statement, one network round trip.

Both raise :class:`Replay` when the idempotency key is already used, and the rule's precise
error (:func:`~._rule.explain`) when a leg is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Engine, Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError

from finbridge.banking.ledger._autocommit import autocommit_connections
from finbridge.banking.ledger._rule import Leg, explain, refusal
from finbridge.banking.ledger._statements import (
    driver_sql,
    execute,
    guarded_update,
    posting_statement,
)
from finbridge.banking.tables import entries_table, postings_table
from finbridge.core.errors import Conflict
from finbridge.lake import Event

entries = entries_table
postings = postings_table
_NO_ACCOUNT = Leg("", "", 0)  # no account has an empty id: the rule admits nothing
_ATTEMPTS = 8  # a refusal the rule cannot explain afterwards is a race: post again (16 racing
# clients on 6 near-empty accounts lost 3 such races in a row in ~1 of 12 test runs)


class Replay(Exception):
    """The idempotency key was already used: roll back and return the stored result."""


class KnownRefusal(Exception):
    """A definitive refusal is stored under the idempotency key: nothing was written; the
    caller raises the stored refusal again (banking_refusals, the service's ``_refused``)."""


@dataclass(frozen=True, slots=True)
class Applied:
    account_id: str
    amount_minor: int
    balance_after: int
    customer_id: str | None


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


# Built once: json.dumps with non-default options builds an encoder on every call (~40% of a
# fingerprint's cost). The output is unchanged, so stored fingerprints still match.
_FINGERPRINT_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(*parts: Any) -> str:
    """A stable hash of a request, to tell a retry from a different request with the same key."""
    return hashlib.sha256(_FINGERPRINT_JSON.encode(parts).encode()).hexdigest()


def insert_ignoring_conflict(conn: Connection, table: Any, key_column: str | None = None) -> Insert:
    """``INSERT ... ON CONFLICT [(key)] DO NOTHING`` in the connection's dialect."""
    target = None if key_column is None else [key_column]
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=target)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=target)


def leg_params(legs: Sequence[Leg]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for i, leg in enumerate(legs):
        params[f"id{i}"] = leg.account_id
        params[f"cur{i}"] = leg.currency
        params[f"d{i}"] = leg.amount_minor
        params[f"r{i}"] = leg.release_held
        params[f"o{i}"] = leg.owner
        params[f"c{i}"] = leg.customers_only
    return params


def update_many(conn: Connection, legs: Sequence[Leg]) -> dict[str, tuple[int, str | None]]:
    """Apply the legs the rule admits (accounts must be distinct); refused ones change nothing.

    Returns ``{account_id: (balance_after, customer_id)}`` for the admitted legs.
    """
    if not legs:
        return {}
    padded = padded_legs(legs)
    rows = execute(conn, guarded_update(conn.dialect, len(padded)), leg_params(padded))
    return {r.id: (int(r.balance_minor), r.customer_id) for r in rows}


def padded_legs(legs: Sequence[Leg]) -> list[Leg]:
    """``legs`` padded to a power of two with legs that match no account.

    Batches come in every size: padded, a handful of statements are compiled and prepared
    instead of one per size.
    """
    size = 1 << (len(legs) - 1).bit_length()
    return [*legs, *([_NO_ACCOUNT] * (size - len(legs)))]


def apply_legs(conn: Connection, legs: Sequence[Leg]) -> list[Applied]:
    """Move balances for ``legs`` all or nothing, or raise the business error why not."""
    moved = update_many(conn, legs)
    out = []
    if len(moved) < len(legs):
        # The caller's rollback undoes the legs that did move.
        explain(conn, *(leg for leg in legs if leg.account_id not in moved))
    for leg in legs:
        balance, owner = moved[leg.account_id]
        out.append(Applied(leg.account_id, leg.amount_minor, balance, owner))
    return out


def insert_postings(
    conn: Connection, entry_id: str, applied: Sequence[Applied], legs: Sequence[Leg]
) -> None:
    currency_of = {leg.account_id: leg.currency for leg in legs}
    conn.execute(
        postings.insert(),
        [
            {
                "entry_id": entry_id,
                "account_id": x.account_id,
                "currency": currency_of[x.account_id],
                "amount_minor": x.amount_minor,
                "balance_after_minor": x.balance_after,
            }
            for x in applied
            if x.amount_minor != 0
        ],
    )


def seal_entry(conn: Connection, spec: EntrySpec) -> None:
    """Insert the entry row after its postings; raise :class:`Replay` if the key exists."""
    stmt = insert_ignoring_conflict(conn, entries, "idempotency_key").returning(entries.c.id)
    if conn.execute(stmt, spec.row()).first() is None:
        raise Replay(spec.scoped_key)


def balanced(legs: Sequence[Leg]) -> None:
    """An entry's legs sum to zero in each currency (one currency, or several for a multi-leg
    journal such as an FX conversion); the database's seal trigger checks it again."""
    totals: dict[str, int] = {}
    for leg in legs:
        totals[leg.currency] = totals.get(leg.currency, 0) + leg.amount_minor
    if any(totals.values()):
        raise ValueError("a journal entry's legs must balance per currency")


def post_entry(conn: Connection, legs: Sequence[Leg], spec: EntrySpec) -> list[Applied]:
    """Move balances, write the postings and seal the entry in the caller's transaction."""
    balanced(legs)
    if conn.dialect.name == "postgresql":
        legs = sorted(legs, key=lambda leg: leg.account_id)  # the statement locks in this order
        params = {**leg_params(legs), **_entry_params(spec)}
        statement = posting_statement(conn.dialect, len(legs), outbox=False)
        rows = execute(conn, statement, params).all()
        if len(rows) < len(legs):
            matched = {r.id for r in rows}
            explain(conn, *(leg for leg in legs if leg.account_id not in matched))
        if rows[0].sealed == 0:
            raise Replay(spec.scoped_key)
        return [Applied(r.id, int(r.delta), int(r.balance_minor), r.customer_id) for r in rows]
    applied = apply_legs(conn, legs)
    insert_postings(conn, spec.entry_id, applied, legs)
    seal_entry(conn, spec)
    return applied


def _entry_params(spec: EntrySpec) -> dict[str, Any]:
    row = spec.row()
    row["result"] = json.dumps(row["result"])
    row["metadata"] = None if row["metadata"] is None else json.dumps(row["metadata"])
    row["entry_id"] = row.pop("id")
    return row


def post_standalone(
    engine: Engine,
    legs: Sequence[Leg],
    spec: EntrySpec,
    event: Event,
    event_legs: tuple[str, str],
) -> list[Applied]:
    """PostgreSQL: post the entry and its outbox ``event`` as one autocommit statement.

    ``event`` is validated here; the statement adds ``from_customer_id``/``to_customer_id``
    (and the subject) from the locked rows of the accounts ``event_legs`` names. The statement
    also looks the key up in ``banking_refusals`` and aborts with :class:`KnownRefusal` if a
    refusal is stored under it, so a new key costs one round trip, its idempotency checks
    included (the key's stored result comes back through :class:`Replay`).
    """
    balanced(legs)
    legs = sorted(legs, key=lambda leg: leg.account_id)  # the statement locks in this order
    event = event.validated()
    params = {**leg_params(legs), **_entry_params(spec)}
    params.update(
        event_id=event.event_id,
        event_type=event.event_type,
        occurred_at=event.occurred_at,
        source=event.source,
        payload=json.dumps(event.payload),
        event_from=event_legs[0],
        event_to=event_legs[1],
    )
    sql = _driver_sql(engine.dialect, len(legs))

    def attempt() -> list[Applied] | None:
        try:
            rows = _run_autocommit(engine, sql, params)
        except DBAPIError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state == "FBDUP":
                raise Replay(spec.scoped_key) from None
            if state == "FBREF":
                raise KnownRefusal(spec.scoped_key) from None
            if state != "FBLEG":
                raise
            return None
        if len(rows) != len(legs):
            return None
        # Columns: id, balance_minor, customer_id, delta, sealed, refused.
        return [Applied(r[0], int(r[3]), int(r[1]), r[2]) for r in rows]

    return post_with_retries(engine, legs, attempt)


def post_with_retries(
    engine: Engine, legs: Sequence[Leg], attempt: Callable[[], list[Applied] | None]
) -> list[Applied]:
    """Run ``attempt`` (one atomic posting; None when a leg was refused and nothing was
    written) until it posts or the rule explains the refusal.

    A refusal is explained against the committed state; if the rule admits every leg now, a
    concurrent posting changed an account in between, so post again (a bounded number of times).
    """
    for _ in range(_ATTEMPTS):
        applied = attempt()
        if applied is not None:
            return applied
        with engine.connect() as conn:
            for leg in legs:
                error = refusal(conn, leg)
                if error is not None:
                    raise error
    raise Conflict(
        "the accounts kept changing while posting; retry with the same idempotency key",
        field="idempotency_key",
    )


@cache
def _driver_sql(dialect: Dialect, n: int) -> str:
    """The posting statement in the driver's own parameter style (compiled once)."""
    return driver_sql(posting_statement(dialect, n, outbox=True), dialect).sql


def _run_autocommit(engine: Engine, sql: str, params: dict[str, Any]) -> list[Any]:
    """Run one statement as its own transaction on a posting connection (:mod:`._autocommit`).

    Straight on the driver: the statement needs no SQLAlchemy result processing, and the
    connection stays in autocommit (an autocommit execution option on a SQLAlchemy connection
    resets the isolation level with a SET on every return to the pool). psycopg prepares the
    statement server-side after a few runs. A connection the server dropped (a restart) costs
    one more try on a fresh one: the statement is all or nothing and checks its key, so if
    the first try committed, the second answers FBDUP (the stored result).
    """
    connections = autocommit_connections(engine)
    dbapi_error = engine.dialect.loaded_dbapi.Error
    for last in (False, True):
        gone = False
        try:
            with connections.connection() as driver:
                try:
                    return list(driver.execute(sql, params).fetchall())
                except dbapi_error as exc:
                    # psycopg's dialect tells a lost connection by the connection's state, so
                    # it needs the connection (without it, is_disconnect always said no).
                    psycopg_conn = getattr(driver, "driver", driver)  # a PostingConnection's
                    gone = engine.dialect.is_disconnect(exc, psycopg_conn, None)
                    raise
        except dbapi_error as exc:
            if not last and gone:
                continue
            raise DBAPIError.instance(sql, params, exc, dbapi_error) from exc
    raise AssertionError("unreachable")  # pragma: no cover


def stored_entry(conn: Connection, scoped_key: str) -> tuple[str, dict[str, Any]] | None:
    """(fingerprint, result) stored under ``scoped_key``, if that key was used."""
    row = conn.execute(
        select(entries.c.request_fingerprint, entries.c.result).where(
            entries.c.idempotency_key == scoped_key
        )
    ).first()
    return None if row is None else (row.request_fingerprint, row.result)
