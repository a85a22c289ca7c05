"""Bulk seeding, card replay and savings interest keep every ledger invariant."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from finbridge.banking import (
    AccountKind,
    BankingService,
    CardTransaction,
    CustomerKind,
    EntryKind,
    NewAccountSpec,
    NewCustomerSpec,
    daily_interest_micro,
)
from finbridge.core import ManualClock, Money, Principal, ValidationError
from finbridge.lake.tables import OutboxRow

from .conftest import OpenFn


def _specs(n: int, amount: str = "500.00") -> list[NewCustomerSpec]:
    return [
        NewCustomerSpec(
            CustomerKind.PERSONAL,
            f"client {i}",
            (
                NewAccountSpec(AccountKind.CURRENT, Money.of(amount, "TWD")),
                NewAccountSpec(AccountKind.SAVINGS, Money.of("0", "TWD"), Decimal("0.0150")),
            ),
            external_ref=f"tw-{i}",
        )
        for i in range(n)
    ]


def test_bulk_open_is_balanced_and_idempotent(svc: BankingService, system: Principal) -> None:
    opened = svc.open_customers_bulk(system, _specs(120), batch_size=50)
    assert len(opened) == 120 and all(len(o.account_ids) == 2 for o in opened)
    again = svc.open_customers_bulk(system, _specs(120), batch_size=50)
    assert again == opened  # same external refs: nothing opened twice
    acc = svc.get_account(system, opened[7].account_ids[0])
    assert acc.balance == Money.of("500.00", "TWD")
    assert svc.history(system, acc.id).items[0].kind is EntryKind.OPENING_BALANCE
    report = svc.verify_ledger(system)
    assert report.ok and report.totals_by_currency["TWD"] == 0
    with svc.engine.connect() as conn:
        counts = dict(
            conn.execute(
                select(OutboxRow.event_type, func.count()).group_by(OutboxRow.event_type)
            ).all()
        )
    assert counts == {"customer.created": 120, "account.opened": 240, "transaction.posted": 120}


def test_card_replay_posts_declines_and_skips_duplicates(
    svc: BankingService, system: Principal, clock: ManualClock
) -> None:
    opened = svc.open_customers_bulk(system, _specs(3, "100.00"))
    a, b, c = (o.account_ids[0] for o in opened)
    svc.freeze_account(system, c)
    t0 = clock.now() - timedelta(days=30)
    items = [
        CardTransaction(a, Money.of("60", "TWD"), "tx-1", t0, "T0001"),
        CardTransaction(a, Money.of("50", "TWD"), "tx-2", t0, "T0002"),  # only 40 left
        CardTransaction(b, Money.of("100", "TWD"), "tx-3", t0, "T0001"),
        CardTransaction(c, Money.of("1", "TWD"), "tx-4", t0, "T0003"),  # frozen
        CardTransaction(a, Money.of("1", "USD"), "tx-5", t0, "T0003"),  # wrong currency
    ]
    res = svc.post_card_transactions(system, items, batch_size=2)
    assert (res.posted, res.declined, res.duplicates) == (2, 3, 0)
    assert sorted(res.declined_keys) == ["tx-2", "tx-4", "tx-5"]
    again = svc.post_card_transactions(system, items[:1] + items[2:3])
    assert (again.posted, again.duplicates) == (0, 2)
    assert svc.balance(system, a).balance == Money.of("40", "TWD")
    hist = svc.history(system, a).items[0]
    assert (hist.kind, hist.created_at) == (EntryKind.CARD_PAYMENT, t0)  # replayed at its time
    assert svc.verify_ledger(system).ok


def test_bulk_input_is_validated(svc: BankingService, system: Principal) -> None:
    bad = NewCustomerSpec(
        CustomerKind.PERSONAL, "x", (NewAccountSpec(AccountKind.CURRENT, Money.of("-1", "TWD")),)
    )
    with pytest.raises(ValidationError, match="non-negative"):
        svc.open_customers_bulk(system, [bad])
    with pytest.raises(ValidationError) as err:
        svc.post_card_transactions(
            system,
            [CardTransaction("x", Money.of("0", "TWD"), "k", svc.clock.now())],
        )
    assert err.value.field == "items[0].amount"


@pytest.mark.parametrize(
    ("balance_minor", "rate", "expected_micro"),
    [
        (100_000_000, "0.0365", 10_000_000_000),  # 1,000,000.00 at 3.65%: 100.00 a day
        (100, "0.0150", 4110),  # 1.00 at 1.5%: 0.00410958... minor -> half-even micro units
        (1, "0.01", 27),  # 0.027397... micro: rounds to 27
        (0, "0.05", 0),
    ],
)
def test_daily_interest_is_act_365_decimal(balance_minor: int, rate: str, expected_micro: int):
    assert daily_interest_micro(balance_minor, Decimal(rate)) == expected_micro


def test_accrual_and_monthly_capitalisation(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    saver = open_account("10000.00", kind="savings", interest_rate="0.0365")  # 1.00 a day
    first = svc.accrue_interest(system, date(2026, 11, 1))
    assert first.accounts == 1 and first.total_micro["CNY"] == 100 * 1_000_000
    assert svc.accrue_interest(system, date(2026, 11, 1)).accounts == 0  # idempotent per day
    # The default day is today in Asia/Shanghai: the test clock's 2026-11-02 01:30 UTC.
    assert svc.accrue_interest(system).business_day == date(2026, 11, 2)
    for day in range(3, 31):
        svc.accrue_interest(system, date(2026, 11, day))
    assert svc.capitalise_interest(system, 2026, 11) == 1
    assert svc.capitalise_interest(system, 2026, 11) == 0  # idempotent per month
    acc = svc.get_account(system, saver.id)
    # Balance grows daily only at capitalisation: 30 days x 1.00 = 30.00
    assert acc.balance == Money.of("10030.00", "CNY")
    assert svc.history(system, saver.id).items[0].kind is EntryKind.INTEREST
    expense = svc.get_account(system, svc.internal_account_id("interest_expense", "CNY"))
    assert expense.balance == Money.of("-30.00", "CNY")
    assert svc.verify_ledger(system).ok


def test_interest_below_a_minor_unit_is_carried_until_it_rounds_to_one(
    lite: BankingService, system: Principal, open_lite: OpenFn
) -> None:
    saver = open_lite("1.00", kind="savings", interest_rate="0.0365")  # 0.0001 a day
    for day in range(1, 31):
        lite.accrue_interest(system, date(2026, 11, day))
    assert lite.capitalise_interest(system, 2026, 11) == 0  # 0.003 rounds to 0.00: carried
    for day in range(1, 32):
        lite.accrue_interest(system, date(2026, 12, day))
    for year, month in [(2027, m) for m in range(1, 4)]:
        for day in range(1, 29):
            lite.accrue_interest(system, date(year, month, day))
    # 30 + 31 + 3 * 28 = 145 days x 0.0001 = 0.0145 -> 0.01 (half-even) at the March run
    assert lite.capitalise_interest(system, 2027, 3) == 1
    assert lite.balance(system, saver.id).balance == Money.of("1.01", "CNY")


def test_customers_cannot_run_bank_batches(lite: BankingService, open_lite: OpenFn) -> None:
    a = open_lite("1")
    me = Principal.customer(a.customer_id or "")
    from finbridge.core import PermissionDenied

    with pytest.raises(PermissionDenied):
        lite.accrue_interest(me, date(2026, 11, 1))
    with pytest.raises(PermissionDenied):
        lite.open_customers_bulk(me, _specs(1))
