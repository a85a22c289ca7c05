"""Merchant settlement inside the close of business: the platform lists the step in the bank's
day; it writes each merchant's file for the day (reconciled to the ledger), the same bytes when
the day is run again."""

from __future__ import annotations

from sqlalchemy import Engine

from finbridge.banking import ApproveAll
from finbridge.core import ManualClock, Money, Principal, Role, Settings
from finbridge.core.clock import business_date
from finbridge.platform import Platform
from finbridge.platform._lending_ports import cob_steps

SYSTEM = Principal.system("t")
ADMIN = Principal.operator("admin-1", [Role.ADMIN])


def test_the_close_of_business_writes_reconciled_settlement_files(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    plat = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    plat.use_posting_guard(ApproveAll())
    bank, pay = plat.banking, plat.payments
    owner = bank.create_customer(SYSTEM, kind="corporate", display_name="Tea House").id
    settle = bank.open_account(SYSTEM, owner, kind="current", currency_code="CNY").id
    shop = pay.merchants.onboard(ADMIN, name="Tea House", mcc="5812",
                                 settlement_account_id=settle, fee_rate="0.01")  # fmt: skip
    payer = bank.create_customer(SYSTEM, kind="personal", display_name="Ada").id
    wallet = bank.open_account(SYSTEM, payer, kind="current", currency_code="CNY").id
    bank.deposit(SYSTEM, wallet, Money.of("100", "CNY"), idempotency_key="f")
    for i in range(2):
        code = pay.merchants.create_code(ADMIN, shop.id, amount=Money.of("12.00", "CNY"))
        pay.payments.pay(Principal.customer(payer), code.payload, from_account_id=wallet,
                         idempotency_key=f"k{i}")  # fmt: skip

    names = [s.name for s in cob_steps(plat)]
    assert names.index("payments.settle_merchants") < names.index("lake.purge_outbox")
    step = next(s for s in cob_steps(plat) if s.name == "payments.settle_merchants")
    day = business_date(clock.now(), settings.business_timezone)
    assert step.run(day) == {"files": 1, "lines": 2, "unreconciled": []}
    written = settings.data_dir / "settlements" / day.isoformat() / f"{shop.id}.csv"
    expected = pay.settlement.daily(ADMIN, shop.id, day)
    assert expected.reconciled and written.read_text(encoding="utf-8") == expected.csv()
    assert written.read_text(encoding="utf-8").splitlines()[-1].endswith(",23.76,CNY")
    assert oct(written.stat().st_mode & 0o777) == "0o600"
    assert step.run(day) == {"files": 1, "lines": 2, "unreconciled": []}  # a rerun: same file
    assert written.read_text(encoding="utf-8") == expected.csv()
