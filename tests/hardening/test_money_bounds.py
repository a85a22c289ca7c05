"""Amounts and balances are bounded per currency: refused with a 422 before writing, and the
database refuses out-of-range or non-integer values on both engines."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from finbridge.banking import BankingService
from finbridge.core import LimitExceeded, ManualClock, Money, Principal, ValidationError
from finbridge.core.money import CURRENCIES, MAX_AMOUNT_MINOR, MAX_BALANCE_MINOR
from finbridge.platform import Platform

from .conftest import admin_of

_keys = itertools.count()


def test_bounds_fit_int64_with_margin() -> None:
    int64 = 2**63 - 1
    assert int64 // 90 > MAX_BALANCE_MINOR + MAX_AMOUNT_MINOR
    for cur in CURRENCIES.values():
        assert Money.of(cur.max_amount, cur.code).minor == MAX_AMOUNT_MINOR
        assert Money.of(cur.max_balance, cur.code).minor == MAX_BALANCE_MINOR


@pytest.mark.parametrize("amount", ["1000000000000.001", "999999999999999.999", "1e40", "9" * 40])
def test_an_amount_over_the_bound_is_refused_naming_the_field(
    svc: BankingService, system: Principal, amount: str
) -> None:
    cust = svc.create_customer(system, kind="personal", display_name="K").id
    acc = svc.open_account(system, cust, kind="current", currency_code="KWD")
    with pytest.raises(ValidationError) as err:
        svc.deposit(system, acc.id, Money.of(amount, "KWD"), idempotency_key=f"k{next(_keys)}")
    assert err.value.field == "amount"
    assert svc.balance(system, acc.id).balance == Money.zero("KWD")


def test_the_balance_bound_is_refused_before_writing(
    svc: BankingService, system: Principal
) -> None:
    cust = svc.create_customer(system, kind="personal", display_name="K").id
    acc = svc.open_account(system, cust, kind="current", currency_code="KWD")
    top = Money.of(CURRENCIES["KWD"].max_amount, "KWD")
    deposits = MAX_BALANCE_MINOR // MAX_AMOUNT_MINOR
    # Jump close to the bound with raw SQL: 100 real deposits would be slow and test nothing new.
    with svc.engine.begin() as conn:
        conn.execute(
            text("UPDATE banking_accounts SET balance_minor = :b WHERE id = :id"),
            {"b": MAX_BALANCE_MINOR - MAX_AMOUNT_MINOR, "id": acc.id},
        )
    assert deposits == 100
    svc.deposit(system, acc.id, top, idempotency_key=f"k{next(_keys)}")  # exactly the bound
    with pytest.raises(LimitExceeded) as err:
        svc.deposit(system, acc.id, Money.of("0.001", "KWD"), idempotency_key=f"k{next(_keys)}")
    assert err.value.field == "amount"
    assert svc.balance(system, acc.id).balance.minor == MAX_BALANCE_MINOR


def test_the_bank_side_is_bounded_too(svc: BankingService, system: Principal) -> None:
    # Teller deposits make the bank's cash account negative: it has the same bound.
    cust = svc.create_customer(system, kind="personal", display_name="K").id
    acc = svc.open_account(system, cust, kind="current", currency_code="JPY")
    cash = svc.internal_account_id("cash", "JPY")
    with svc.engine.begin() as conn:
        conn.execute(
            text("UPDATE banking_accounts SET balance_minor = :b WHERE id = :id"),
            {"b": -MAX_BALANCE_MINOR + 5, "id": cash},
        )
    with pytest.raises(LimitExceeded):
        svc.deposit(system, acc.id, Money.of("6", "JPY"), idempotency_key=f"k{next(_keys)}")
    assert svc.balance(system, acc.id).balance == Money.zero("JPY")


@pytest.mark.parametrize(
    "value", [MAX_BALANCE_MINOR + 1, -MAX_BALANCE_MINOR - 1, 2**63 - 1, 1.5e19]
)
def test_the_database_refuses_out_of_range_balances(
    svc: BankingService, system: Principal, value: object
) -> None:
    engine = svc.engine
    acc = svc.open_account(
        system,
        svc.create_customer(system, kind="personal", display_name="K").id,
        kind="current",
        currency_code="TWD",
    )
    if engine.dialect.name == "postgresql" and isinstance(value, float):
        value = int(value)  # psycopg would send a float; the bigint itself overflows there
    with pytest.raises((IntegrityError, DBAPIError)), engine.begin() as conn:
        conn.execute(
            text("UPDATE banking_accounts SET balance_minor = :b WHERE id = :id"),
            {"b": value, "id": acc.id},
        )


def test_sqlite_refuses_an_overflow_that_would_become_a_float(
    sqlite_engine: Engine, clock: ManualClock, system: Principal
) -> None:
    svc = BankingService(sqlite_engine, clock)
    acc = svc.open_account(
        system,
        svc.create_customer(system, kind="personal", display_name="K").id,
        kind="current",
        currency_code="TWD",
    )
    with pytest.raises(IntegrityError, match="out of bounds"), sqlite_engine.begin() as conn:
        # balance_minor + 2^63-1 overflows: SQLite would store a REAL without the trigger.
        conn.execute(
            text("UPDATE banking_accounts SET balance_minor = balance_minor + :d + :d "
                 "WHERE id = :id"),
            {"d": 2**63 - 1, "id": acc.id},
        )  # fmt: skip
    with sqlite_engine.connect() as conn:
        kind = conn.execute(
            text("SELECT typeof(balance_minor) FROM banking_accounts WHERE id = :id"),
            {"id": acc.id},
        ).scalar_one()
    assert kind == "integer"


def test_the_api_answers_422_for_the_reported_overflow(both_platform: Platform) -> None:
    admin = admin_of(both_platform)
    acc = admin.account(admin.customer(), currency="KWD")
    for i in range(3):
        r = admin.post(
            f"/v1/accounts/{acc}/deposits",
            json={"amount": "999999999999999.999", "currency": "KWD"},
            headers={"Idempotency-Key": f"big-{i}"},
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["field"] == "amount"
    assert admin.balance(acc) == "0.000"
    assert both_platform.banking.verify_ledger(Principal.system("test")).ok
