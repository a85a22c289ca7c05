"""SQL text for the posting paths, generated per dialect around the one rule (:mod:`._rule`).

Only leg counts are formatted into the SQL; every value is a bound parameter. Statements are
cached per (dialect, leg count), so the driver sees the same text again and can prepare it.

* :func:`guarded_update` moves the balances of ``n`` legs in one statement and returns the rows
  the rule admitted (SQLite: ``UPDATE ... FROM``; PostgreSQL: the same, after taking the row
  locks in account-id order so concurrent postings cannot deadlock).
* :func:`posting_statement` (PostgreSQL) is a whole journal entry in one statement: the guarded
  update, the postings, the sealing entry and, when asked, the outbox row; run on its own in
  autocommit it is one network round trip. It aborts through ``banking_refuse`` (banking_0003)
  if only some legs matched or the idempotency key is taken, so nothing half-done can commit.
* :func:`explain_statement` evaluates each condition of the rule for one leg.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Connection, CursorResult, TextClause, text
from sqlalchemy.engine import Dialect

from finbridge.banking.ledger._rule import conditions_sql, rule_sql

LEG_PARAMS = ("id", "cur", "d", "r", "o", "c")  # bound as :id0, :cur0, :d0 ...


@dataclass(frozen=True, slots=True)
class DriverSQL:
    """A statement compiled once into the driver's own SQL and parameter order."""

    sql: str
    positions: tuple[str, ...] | None  # qmark drivers (sqlite3) bind by position

    def bind(self, params: Mapping[str, Any]) -> Any:
        if self.positions is None:
            return dict(params)
        return tuple(params[name] for name in self.positions)


@cache
def driver_sql(statement: TextClause, dialect: Dialect) -> DriverSQL:
    compiled = statement.compile(dialect=dialect)
    positions = compiled.positiontup
    return DriverSQL(compiled.string, None if positions is None else tuple(positions))


def execute(
    conn: Connection, statement: TextClause, params: Mapping[str, Any]
) -> CursorResult[Any]:
    """Run a cached statement straight through the driver.

    ``Connection.execute`` re-parses a ``text()`` construct's bind names on every call, which
    dominated the card batch (a statement with 6,000 parameters per round).
    """
    compiled = driver_sql(statement, conn.dialect)
    return conn.exec_driver_sql(compiled.sql, compiled.bind(params))


def _pg(dialect: Dialect) -> bool:
    return dialect.name == "postgresql"


def _values(dialect: Dialect, n: int) -> str:
    """``v(id, cur, delta, rel, owner, customers_only, ord)`` as a FROM item body."""
    if _pg(dialect):
        rows = ", ".join(
            f"(CAST(:id{i} AS varchar), CAST(:cur{i} AS varchar), CAST(:d{i} AS bigint),"
            f" CAST(:r{i} AS bigint), CAST(:o{i} AS varchar), CAST(:c{i} AS boolean), {i})"
            for i in range(n)
        )
        return f"VALUES {rows}"
    # SQLite: a VALUES list (not UNION ALL, which is capped at 500 terms) with named columns.
    rows = ", ".join(f"(:id{i}, :cur{i}, :d{i}, :r{i}, :o{i}, :c{i}, {i})" for i in range(n))
    columns = (
        "column1 AS id, column2 AS cur, column3 AS delta, column4 AS rel, column5 AS owner,"
        " column6 AS customers_only, column7 AS ord"
    )
    return f"SELECT {columns} FROM (VALUES {rows})"  # noqa: S608


def _ids(n: int) -> str:
    """The legs' account ids as an IN list: lets the planner look rows up by primary key
    (joined only to the VALUES list, PostgreSQL estimates a scan of the whole table)."""
    return ", ".join(f":id{i}" for i in range(n))


def _update_body(dialect: Dialect) -> str:
    """The guarded UPDATE without its FROM list: the one place balances change."""
    return (
        "UPDATE banking_accounts AS a"
        " SET balance_minor = a.balance_minor + v.delta, held_minor = a.held_minor - v.rel"
    )


@cache
def guarded_update(dialect: Dialect, n: int) -> TextClause:
    """Move ``n`` legs (distinct accounts); returns ``id, balance_minor, customer_id``."""
    rule = rule_sql(dialect)
    if _pg(dialect):
        sql = f"""
WITH v(id, cur, delta, rel, owner, customers_only, ord) AS ({_values(dialect, n)}),
locked AS (
  SELECT a.id FROM banking_accounts AS a WHERE a.id IN ({_ids(n)}) ORDER BY a.id FOR UPDATE
)
{_update_body(dialect)}
FROM v JOIN locked ON locked.id = v.id
WHERE a.id IN ({_ids(n)}) AND a.id = v.id AND {rule}
RETURNING a.id, CAST(a.balance_minor AS bigint) AS balance_minor, a.customer_id
"""  # noqa: S608
    else:
        # The transaction already holds SQLite's write lock: row order does not matter.
        sql = f"""
{_update_body(dialect)}
FROM ({_values(dialect, n)}) AS v
WHERE a.id IN ({_ids(n)}) AND a.id = v.id AND {rule}
RETURNING id, balance_minor, customer_id
"""
    return text(sql)


def _leg_chain(dialect: Dialect, n: int) -> str:
    """One guarded UPDATE per leg, chained: leg ``i`` runs only if leg ``i - 1`` moved.

    The caller orders the legs by account id, so concurrent postings lock rows in one global
    order (no deadlock), each lock is the UPDATE itself (one primary-key lookup per account,
    as a hand-written function would do), and a refused first leg leaves nothing to undo.
    """
    ctes = []
    for i in range(n):
        after = f" AND EXISTS (SELECT 1 FROM m{i - 1})" if i else ""  # noqa: S608
        ctes.append(
            f"""m{i} AS (
  {_update_body(dialect)}
  FROM (VALUES (CAST(:id{i} AS varchar), CAST(:cur{i} AS varchar), CAST(:d{i} AS bigint),
    CAST(:r{i} AS bigint), CAST(:o{i} AS varchar), CAST(:c{i} AS boolean), {i}))
    AS v(id, cur, delta, rel, owner, customers_only, ord)
  WHERE a.id = :id{i} AND {rule_sql(dialect)}{after}
  RETURNING a.id, a.balance_minor, a.customer_id, v.delta, v.cur, v.ord
)"""
        )
    return ",\n".join(ctes)


@cache
def posting_statement(dialect: Dialect, n: int, *, outbox: bool) -> TextClause:
    """PostgreSQL: one journal entry of ``n`` legs in one statement (see the module doc).

    Postings go in only if every leg matched, the entry only if the postings did (counting them
    makes every posting precede the entry, as the seal trigger requires), and the outbox row
    only if the entry was sealed. With ``outbox`` the statement also refuses a partial match
    or a taken key itself, so it is safe to run alone in autocommit.
    """
    assert _pg(dialect), "SQLite posts statement by statement inside its transaction"
    event = ""
    refuse = "NULL"
    if outbox:
        # The payload is built and validated in Python; only the customer ids come from the
        # rows just locked (they are the source of truth, and never change for an account).
        event = """,
evented AS (
  INSERT INTO lake_outbox (event_id, event_type, schema_version, occurred_at, subject_id,
    source, payload)
  SELECT :event_id, :event_type, 1, :occurred_at,
    coalesce(src.customer_id, dst.customer_id), :source,
    CAST(CAST(:payload AS jsonb) || jsonb_build_object(
      'from_customer_id', src.customer_id, 'to_customer_id', dst.customer_id) AS json)
  FROM sealed, moved AS src, moved AS dst
  WHERE src.id = :event_from AND dst.id = :event_to
  RETURNING 1
)"""
        # A refusal stored under the key comes first: the key's first answer stands.
        refuse = (
            "CASE WHEN EXISTS (SELECT 1 FROM banking_refusals AS k"  # noqa: S608
            " WHERE k.idempotency_key = :idempotency_key)"
            " THEN banking_refuse('FBREF', :idempotency_key)"
            f" WHEN (SELECT count(*) FROM moved) < {n} THEN banking_refuse('FBLEG', '')"
            " WHEN (SELECT count(*) FROM sealed) = 0 THEN banking_refuse('FBDUP', :idempotency_key)"
            " END"
        )
    sql = f"""
WITH {_leg_chain(dialect, n)},
moved AS ({" UNION ALL ".join(f"SELECT * FROM m{i}" for i in range(n))}),
posted AS (
  INSERT INTO banking_postings
    (entry_id, account_id, currency, amount_minor, balance_after_minor)
  SELECT :entry_id, id, cur, delta, balance_minor FROM moved
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
){event}
SELECT id, CAST(balance_minor AS bigint) AS balance_minor, customer_id, delta,
  (SELECT count(*) FROM sealed) AS sealed, {refuse} AS refused
FROM moved ORDER BY ord
"""  # noqa: S608
    # The balance is cast to its base type (here and in guarded_update): on PostgreSQL the
    # column is a domain since banking_0008, and a prepared statement whose result type
    # changes under it fails ("cached plan must not change result type") until re-prepared.
    return text(sql)


@cache
def explain_statement(dialect: Dialect) -> TextClause:
    """One leg's account state and the truth of each condition (``ok_<name>``)."""
    checks = ", ".join(f"({sql}) AS ok_{name}" for name, sql in conditions_sql(dialect))
    body = _values(dialect, 1)
    source = (
        f"(WITH v(id, cur, delta, rel, owner, customers_only, ord) AS ({body}) SELECT * FROM v)"  # noqa: S608
        if _pg(dialect)
        else f"({body})"
    )
    sql = f"""
SELECT a.currency, a.status, a.balance_minor, a.held_minor, {checks}
FROM banking_accounts AS a JOIN {source} AS v ON a.id = v.id
WHERE a.id = :id0
"""  # noqa: S608
    return text(sql)


def compile_all(dialect: Dialect) -> None:
    """Build and compile the statements of the common postings (1-2 legs) for ``dialect``."""
    for n in (1, 2):
        driver_sql(guarded_update(dialect, n), dialect)
        if _pg(dialect):
            for outbox in (True, False):
                driver_sql(posting_statement(dialect, n, outbox=outbox), dialect)
    driver_sql(explain_statement(dialect), dialect)
