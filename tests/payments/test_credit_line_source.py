"""An account floored below zero that lending does not book as a line (here: no lending wired)
is refused as a payment's source: a posting made here would escape statements and interest.
Lines lending books pay merchants through its purchase flow (test_pay_from_line.py). Refused
naming the field, with nothing moved."""

from __future__ import annotations

import pytest
from tests.payments.conftest import WalletFn, customer_of

from finbridge.banking import BankingService
from finbridge.core import BusinessRuleViolation, Money, Principal
from finbridge.payments import PaymentsService
from finbridge.payments.crossborder import Beneficiary

HANS = Beneficiary(name="Hans Muller", country="DE", bic="DEUTDEFF",
                   iban="DE89370400440532013000")  # fmt: skip


def test_a_credit_line_is_refused_as_a_source(
    lite_pay: PaymentsService, lite_wallets: WalletFn, lite_bank: BankingService,
    system: Principal, admin: Principal, teller: Principal,
) -> None:  # fmt: skip
    owner = lite_wallets("Tea House Ltd")
    shop = lite_pay.merchants.onboard(
        admin, name="Tea House", mcc="5812", settlement_account_id=owner["CNY"].id, fee_rate="0.01"
    )
    me = lite_wallets("Ada Wang")
    line = me["CNY"].id
    lite_bank.set_floor(system, line, Money.of("-1000", "CNY"))  # what lending does for a line
    lite_bank.set_floor(system, me["EUR"].id, Money.of("-1000", "EUR"))
    actor = customer_of(me["CNY"])
    code = lite_pay.merchants.create_code(teller, shop.id, amount=Money.of("12.00", "CNY"))
    with pytest.raises(BusinessRuleViolation, match="credit line") as err:
        lite_pay.payments.pay(actor, code.payload, from_account_id=line, idempotency_key="k")
    assert err.value.field == "from_account_id"
    with pytest.raises(BusinessRuleViolation, match="credit line"):
        lite_pay.crossborder.send(actor, from_account_id=me["EUR"].id,
                                  amount=Money.of("10", "EUR"), beneficiary=HANS,
                                  idempotency_key="x")  # fmt: skip
    assert lite_bank.balance(system, line).balance == Money.zero("CNY")
    assert lite_bank.balance(system, me["EUR"].id).available == Money.zero("EUR")
