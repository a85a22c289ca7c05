"""The posting rule is specified once: every path's SQL and every refusal come from it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.dialects import postgresql, sqlite

from finbridge.banking import BankingService
from finbridge.banking.ledger import RULE, Leg, refusal
from finbridge.banking.ledger._rule import conditions_sql, rule_sql
from finbridge.banking.ledger._statements import guarded_update, posting_statement
from finbridge.core import (
    AccountNotActive,
    CurrencyMismatch,
    InsufficientFunds,
    Money,
    NotFound,
    Principal,
)

from .conftest import OpenFn


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_every_statement_carries_every_condition(dialect) -> None:
    where = rule_sql(dialect)
    for name, sql in conditions_sql(dialect):
        assert sql in where, name
    statements = [str(guarded_update(dialect, 3))]
    if dialect.name == "postgresql":
        statements += [str(posting_statement(dialect, 2, outbox=o)) for o in (True, False)]
    for statement in statements:
        assert where in statement


def test_the_refusals_are_the_rules_conditions_in_order(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    a, other = open_account("10"), open_account("10")
    usd = open_account("10", currency="USD")
    cash = svc.internal_account_id("cash", "CNY")
    frozen = open_account("10")
    svc.freeze_account(system, frozen.id)
    cases = [
        (Leg(other.id, "CNY", -1, owner=a.customer_id), NotFound),  # owner
        (Leg(cash, "CNY", 1, customers_only=True), NotFound),  # customer_account
        (Leg(usd.id, "CNY", 1), CurrencyMismatch),  # currency
        (Leg(frozen.id, "CNY", -1), AccountNotActive),  # open
        (Leg(a.id, "CNY", -1001), InsufficientFunds),  # floor
        (Leg("01900000-0000-7000-8000-000000000000", "CNY", 1), NotFound),  # no such row
    ]
    with svc.engine.connect() as conn:
        for leg, error in cases:
            assert isinstance(refusal(conn, leg), error), leg
        assert refusal(conn, Leg(a.id, "CNY", -1000)) is None  # exactly the available amount
        assert refusal(conn, Leg(frozen.id, "CNY", 1)) is None  # frozen accounts take credits
    assert [c.name for c in RULE] == [
        "owner", "customer_account", "currency", "not_closed", "open", "held", "floor",
        "ceiling",
    ]  # fmt: skip
    assert svc.balance(system, a.id).balance == Money.of("10", "CNY")


def test_postgresql_has_no_second_copy_of_the_rule(pg_engine: Engine) -> None:
    with pg_engine.connect() as conn:
        functions = set(
            conn.execute(
                text("SELECT proname FROM pg_proc WHERE proname LIKE 'banking_%'")
            ).scalars()
        )
    assert "banking_post_pair" not in functions and "banking_refuse" in functions


def test_warm_compiles_the_posting_statements(svc: BankingService) -> None:
    from finbridge.banking.ledger._statements import driver_sql

    svc.warm()
    dialect = svc.engine.dialect
    hits = driver_sql.cache_info().hits
    driver_sql(guarded_update(dialect, 2), dialect)  # what the first SQLite posting runs
    assert driver_sql.cache_info().hits == hits + 1
