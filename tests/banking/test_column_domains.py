"""banking_0008: every account and posting rule still refuses, whichever form it takes.

On PostgreSQL the one-column rules are domains and the static shape rules a trigger (checked
when a value is written to the column, not on every balance update); on SQLite they stay table
checks. The same raw writes are refused on both.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from tests.migration_support import alembic

from finbridge.banking import BankingService
from finbridge.core import ManualClock, Money, Principal, new_id
from finbridge.platform import upgrade_database

from .conftest import OpenFn, _opener

_INTERNAL = (
    "INSERT INTO banking_accounts (id, customer_id, kind, internal_code, currency, status,"
    " created_at) VALUES (:i, :c, :k, :code, 'CNY', 'open', CURRENT_TIMESTAMP)"
)


def _refused(engine: Engine, sql: str, params: dict[str, object]) -> None:
    with pytest.raises(DBAPIError, match=r"(?i)check|out of bounds"), engine.begin() as conn:
        conn.execute(text(sql), params)


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("held_minor", -1),
        ("floor_minor", 1),
        ("floor_minor", -(10**17) - 1),
        ("status", "dormant"),
        ("kind", "loan"),
        ("balance_minor", 10**17 + 1),
    ],
)
def test_a_value_out_of_its_column_rule_is_refused(
    svc: BankingService, open_account: OpenFn, column: str, value: object
) -> None:
    account = open_account("100").id
    _refused(
        svc.engine, f"UPDATE banking_accounts SET {column} = :v WHERE id = :a",
        {"v": value, "a": account},
    )  # fmt: skip


def test_the_shape_of_internal_and_customer_accounts_is_enforced(
    svc: BankingService, open_account: OpenFn, system: Principal
) -> None:
    account = open_account("100").id
    customer = svc.create_customer(system, kind="personal", display_name="x").id
    # A customer's account cannot become internal, nor an internal one carry a customer.
    _refused(svc.engine, "UPDATE banking_accounts SET kind = 'internal' WHERE id = :a",
             {"a": account})  # fmt: skip
    _refused(svc.engine, _INTERNAL,
             {"i": new_id(), "c": customer, "k": "internal", "code": "CASH2"})  # fmt: skip
    _refused(svc.engine, _INTERNAL,
             {"i": new_id(), "c": None, "k": "current", "code": "ODD"})  # fmt: skip
    # Only the bank's own accounts may go negative, whichever column the update names.
    _refused(svc.engine, "UPDATE banking_accounts SET allow_negative = true WHERE id = :a",
             {"a": account})  # fmt: skip
    # The rules do not stop what they allow: a well-formed internal account goes in.
    with svc.engine.begin() as conn:
        conn.execute(text(_INTERNAL), {"i": new_id(), "c": None, "k": "internal", "code": "TEST"})


def test_a_posting_of_zero_or_beyond_the_bound_is_refused(
    svc: BankingService, open_account: OpenFn
) -> None:
    account = open_account("100").id
    for amount in (0, 10**15 + 1):
        _refused(
            svc.engine,
            "INSERT INTO banking_postings (entry_id, account_id, currency, amount_minor,"
            " balance_after_minor) VALUES (:e, :a, 'CNY', :m, 0)",
            {"e": new_id(), "a": account, "m": amount},
        )


def test_postgresql_keeps_the_rules_as_domains_and_a_trigger(pg_engine: Engine) -> None:
    engine = pg_engine
    checks = {c["name"] for c in inspect(engine).get_check_constraints("banking_accounts")}
    assert checks == {"ck_banking_accounts_available_above_floor"}
    assert inspect(engine).get_check_constraints("banking_postings") == []
    with engine.connect() as conn:
        types: dict[str, str] = dict(
            conn.execute(
                text(
                    "SELECT table_name || '.' || column_name, domain_name"
                    " FROM information_schema.columns WHERE domain_name IS NOT NULL"
                    " AND table_name IN ('banking_accounts', 'banking_postings')"
                )
            ).all()
        )
    assert types["banking_accounts.balance_minor"] == "banking_balance_minor"
    assert types["banking_postings.amount_minor"] == "banking_amount_minor"
    assert types["banking_postings.currency"] == types["banking_accounts.currency"]


def test_the_migration_goes_back_and_forth_keeping_rows(
    pg_engine: Engine, clock: ManualClock, system: Principal
) -> None:
    engine = pg_engine  # banking_0008 changes nothing on SQLite
    svc = BankingService(engine, clock)
    open_account = _opener(svc, system)
    a, b = open_account("100").id, open_account("5").id
    svc.transfer(system, a, b, Money.of("1.25", "CNY"), idempotency_key="before")
    alembic(engine, "downgrade", "banking_0007")
    try:
        checks = {c["name"] for c in inspect(engine).get_check_constraints("banking_accounts")}
        assert "ck_banking_accounts_currency" in checks and len(checks) == 11
        _refused(engine, "UPDATE banking_accounts SET held_minor = -1 WHERE id = :a", {"a": a})
    finally:
        alembic(engine, "upgrade", "heads")
        upgrade_database(engine)
    # The posting statement's result type is pinned, so connections prepared before the
    # migration keep posting after it.
    svc.transfer(system, b, a, Money.of("0.25", "CNY"), idempotency_key="after")
    assert svc.balance(system, a).balance.minor == 10000 - 125 + 25
    assert svc.verify_ledger(system).ok
