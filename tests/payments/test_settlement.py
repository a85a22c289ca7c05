"""A merchant's daily settlement file lists the day's payments and refunds and reconciles to
the ledger (each entry moved exactly its net on the settlement account)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from tests.payments.conftest import WalletFn, customer_of

from finbridge.banking import BankingService
from finbridge.core import ManualClock, Money, NotFound, Principal
from finbridge.core.clock import business_date
from finbridge.payments import PaymentsService


def test_settlement_file_reconciles_and_spots_a_ledger_mismatch(
    lite_pay: PaymentsService, lite_wallets: WalletFn, lite_bank: BankingService,
    clock: ManualClock, sqlite_engine: Engine, teller: Principal, admin: Principal,
) -> None:  # fmt: skip
    pay = lite_pay
    owner = lite_wallets("Tea House Ltd")
    shop = pay.merchants.onboard(
        admin, name="Tea House", mcc="5812", settlement_account_id=owner["CNY"].id,
        fee_rate="0.01",
    )  # fmt: skip
    payer = lite_wallets("Ada", CNY="500")
    actor = customer_of(payer["CNY"])
    paid = []
    for i, amount in enumerate(("10.00", "25.50", "99.99")):
        code = pay.merchants.create_code(teller, shop.id, amount=Money.of(amount, "CNY"))
        paid.append(pay.payments.pay(actor, code.payload, from_account_id=payer["CNY"].id,
                                     idempotency_key=f"k{i}"))  # fmt: skip
    pay.payments.refund(teller, paid[1].id, amount=Money.of("5.50", "CNY"), idempotency_key="r")
    day = business_date(clock.now())
    report = pay.settlement.daily(teller, shop.id, day)
    assert [x.kind for x in report.lines] == ["payment", "payment", "payment", "refund"]
    # nets: 9.90 + 25.24 (fee 0.26) + 98.99 (fee 1.00) - (5.50 - 0.06 fee back)
    assert report.net_total == Money.of("128.69", "CNY") and report.reconciled
    assert (
        report.net_total
        == lite_bank.balance(Principal.system("t"), shop.settlement_account_id).balance
    )
    lines = report.csv().splitlines()
    assert lines[0].startswith("type,id,payment_id") and lines[-1].endswith(",128.69,CNY")
    clock.advance(timedelta(days=1))
    assert pay.settlement.daily(teller, shop.id, business_date(clock.now())).lines == ()
    # The merchant sees its own file; another customer does not.
    assert pay.settlement.daily(customer_of(owner["CNY"]), shop.id, day).reconciled
    with pytest.raises(NotFound):
        pay.settlement.daily(actor, shop.id, day)
    # A payment row that disagrees with its ledger entry is caught.
    with sqlite_engine.begin() as conn:
        conn.execute(text("UPDATE payments_payments SET fee_minor = fee_minor + 1 WHERE id = :i"),
                     {"i": paid[0].id})  # fmt: skip
    broken = pay.settlement.daily(teller, shop.id, day)
    assert not broken.reconciled and broken.mismatches == (paid[0].entry_id,)
