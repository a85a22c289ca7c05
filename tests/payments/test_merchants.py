"""Merchants, payment codes, one-call payments net of fee, refunds that never exceed the
payment (also when racing)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from tests.payments.conftest import WalletFn, currency_sums, customer_of

from finbridge.banking import BankingService, InternalAccount
from finbridge.core import (
    BusinessRuleViolation,
    Conflict,
    CurrencyMismatch,
    IdempotencyConflict,
    ManualClock,
    Money,
    NotFound,
    PermissionDenied,
    Principal,
    ValidationError,
)
from finbridge.payments import Merchant, PaymentsService, qr_png, qr_svg


@pytest.fixture
def shop(pay: PaymentsService, wallets: WalletFn, admin: Principal) -> Merchant:
    owner = wallets("Tea House Ltd")
    return pay.merchants.onboard(
        admin, name="Tea House", mcc="5812", settlement_account_id=owner["CNY"].id,
        fee_rate="0.006",
    )  # fmt: skip


def _bal(bank: BankingService, account_id: str) -> Money:
    return bank.balance(Principal.system("t"), account_id).balance


def test_a_dynamic_code_is_paid_once_and_the_merchant_gets_the_net(
    pay: PaymentsService, shop: Merchant, wallets: WalletFn, bank: BankingService,
    engine: Engine, teller: Principal,
) -> None:  # fmt: skip
    payer = wallets(CNY="500")
    code = pay.merchants.create_code(teller, shop.id, amount=Money.of("88.80", "CNY"),
                                     reference="order-17")  # fmt: skip
    actor = customer_of(payer["CNY"])
    preview = pay.merchants.preview(actor, code.payload)
    assert (preview.merchant_name, preview.amount) == ("Tea House", Money.of("88.80", "CNY"))
    paid = pay.payments.pay(actor, code.payload, from_account_id=payer["CNY"].id,
                            idempotency_key="p1")  # fmt: skip
    assert paid.fee == Money.of("0.53", "CNY")  # 0.6% of 88.80 = 0.5328, half-even
    assert _bal(bank, payer["CNY"].id) == Money.of("411.20", "CNY")
    assert _bal(bank, shop.settlement_account_id) == Money.of("88.27", "CNY")
    fee_account = bank.internal_account_id(InternalAccount.FEE_INCOME, "CNY")
    assert _bal(bank, fee_account) == Money.of("0.53", "CNY")
    # The same request again returns the first payment; the code cannot be paid again.
    again = pay.payments.pay(actor, code.payload, from_account_id=payer["CNY"].id,
                             idempotency_key="p1")  # fmt: skip
    assert again.replayed and again.id == paid.id
    with pytest.raises(Conflict, match="already paid") as err:
        pay.payments.pay(actor, code.payload, from_account_id=payer["CNY"].id,
                         idempotency_key="p2")  # fmt: skip
    assert err.value.field == "code"
    assert currency_sums(engine)["CNY"] == 0
    assert pay.payments.search(actor)[0].id == paid.id


def test_static_codes_take_the_payers_amount_and_bad_codes_are_refused(
    pay: PaymentsService, shop: Merchant, wallets: WalletFn, teller: Principal,
    clock: ManualClock,
) -> None:  # fmt: skip
    payer = wallets(CNY="100", USD="10")
    actor = customer_of(payer["CNY"])
    static = pay.merchants.create_code(teller, shop.id)
    with pytest.raises(ValidationError, match="needs an amount"):
        pay.payments.pay(actor, static.payload, from_account_id=payer["CNY"].id,
                         idempotency_key="s0")  # fmt: skip
    pay.payments.pay(actor, static.payload, from_account_id=payer["CNY"].id,
                     idempotency_key="s1", amount=Money.of("10", "CNY"))  # fmt: skip
    pay.payments.pay(actor, static.payload, from_account_id=payer["CNY"].id,
                     idempotency_key="s2", amount=Money.of("10", "CNY"))  # fmt: skip
    # Tampered: the amount changed in the body, or the signature.
    body_tampered = static.payload.replace(static.payload.split(".")[1], "eyJhIjoiMSJ9")
    for bad in (body_tampered, static.payload[:-2] + "xx", "hello", "FBPAY1.a.b.c"):
        with pytest.raises(ValidationError) as err:
            pay.payments.pay(actor, bad, from_account_id=payer["CNY"].id, idempotency_key="t")
        assert err.value.field == "code"
    with pytest.raises(CurrencyMismatch) as cm:
        pay.payments.pay(actor, static.payload, from_account_id=payer["USD"].id,
                         idempotency_key="u", amount=Money.of("1", "USD"))  # fmt: skip
    assert cm.value.field == "currency"
    with pytest.raises(CurrencyMismatch) as cm2:  # paying CNY from a USD wallet
        pay.payments.pay(actor, static.payload, from_account_id=payer["USD"].id,
                         idempotency_key="u2", amount=Money.of("1", "CNY"))  # fmt: skip
    assert cm2.value.field == "from_account_id"
    dynamic = pay.merchants.create_code(teller, shop.id, amount=Money.of("5", "CNY"))
    clock.advance(timedelta(seconds=301))
    with pytest.raises(BusinessRuleViolation, match="expired") as exp:
        pay.payments.pay(actor, dynamic.payload, from_account_id=payer["CNY"].id,
                         idempotency_key="e")  # fmt: skip
    assert exp.value.field == "code"
    with pytest.raises(IdempotencyConflict):
        pay.payments.pay(actor, static.payload, from_account_id=payer["CNY"].id,
                         idempotency_key="s1", amount=Money.of("11", "CNY"))  # fmt: skip


def test_qr_images_render_the_payload(
    pay: PaymentsService, shop: Merchant, teller: Principal
) -> None:
    code = pay.merchants.create_code(teller, shop.id, amount=Money.of("1.00", "CNY"))
    assert qr_svg(code.payload).startswith("<svg")
    assert qr_png(code.payload).startswith(b"\x89PNG")


def test_onboarding_checks_every_field(
    pay: PaymentsService, wallets: WalletFn, admin: Principal, teller: Principal
) -> None:
    acc = wallets()["CNY"]
    good = {"name": "Shop", "mcc": "5411", "settlement_account_id": acc.id, "fee_rate": "0.006"}
    cases = [
        ({"name": ""}, "name"), ({"mcc": "54A1"}, "mcc"), ({"fee_rate": "0.5"}, "fee_rate"),
        ({"fee_rate": "abc"}, "fee_rate"), ({"fee_rate": 0.006}, "fee_rate"),
        ({"settlement_account_id": "nope"}, "settlement_account_id"),
    ]  # fmt: skip
    for change, field in cases:
        with pytest.raises((ValidationError, NotFound)) as err:
            pay.merchants.onboard(admin, **{**good, **change})  # type: ignore[arg-type]
        assert err.value.field == field, change
    with pytest.raises(PermissionDenied):
        pay.merchants.onboard(teller, **good)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        pay.merchants.onboard(customer_of(acc), **good)  # type: ignore[arg-type]


def test_refunds_several_never_above_the_payment_and_return_the_whole_fee(
    pay: PaymentsService, shop: Merchant, wallets: WalletFn, bank: BankingService,
    teller: Principal, engine: Engine,
) -> None:  # fmt: skip
    payer = wallets(CNY="1000")
    bank.deposit(Principal.system("t"), shop.settlement_account_id, Money.of("100", "CNY"),
                 idempotency_key="float")  # fmt: skip
    code = pay.merchants.create_code(teller, shop.id, amount=Money.of("100.00", "CNY"))
    paid = pay.payments.pay(customer_of(payer["CNY"]), code.payload,
                            from_account_id=payer["CNY"].id, idempotency_key="k")  # fmt: skip
    assert paid.fee == Money.of("0.60", "CNY")
    r1 = pay.payments.refund(teller, paid.id, amount=Money.of("30.00", "CNY"), idempotency_key="r1")
    assert r1.fee_returned == Money.of("0.18", "CNY")
    again = pay.payments.refund(teller, paid.id, amount=Money.of("30.00", "CNY"),
                                idempotency_key="r1")  # fmt: skip
    assert again.replayed and again.id == r1.id
    with pytest.raises(BusinessRuleViolation, match="over the paid amount") as err:
        pay.payments.refund(teller, paid.id, amount=Money.of("70.01", "CNY"), idempotency_key="r2")
    assert err.value.field == "amount"
    r3 = pay.payments.refund(teller, paid.id, idempotency_key="r3")  # the rest
    assert r3.amount == Money.of("70.00", "CNY") and r3.fee_returned == Money.of("0.42", "CNY")
    assert _bal(bank, payer["CNY"].id) == Money.of("1000.00", "CNY")
    fee_account = bank.internal_account_id(InternalAccount.FEE_INCOME, "CNY")
    assert _bal(bank, fee_account) == Money.zero("CNY")
    assert _bal(bank, shop.settlement_account_id) == Money.of("100.00", "CNY")
    assert [r.id for r in pay.payments.refunds(teller, paid.id)] == [r1.id, r3.id]
    with pytest.raises(BusinessRuleViolation):
        pay.payments.refund(teller, paid.id, amount=Money.of("0.01", "CNY"), idempotency_key="r4")
    # The payer cannot refund themselves; another customer cannot see the payment.
    with pytest.raises(NotFound):
        pay.payments.refund(customer_of(payer["CNY"]), paid.id, idempotency_key="self")
    assert currency_sums(engine)["CNY"] == 0


def test_racing_refunds_never_exceed_the_payment(
    pay: PaymentsService, shop: Merchant, wallets: WalletFn, bank: BankingService,
    teller: Principal,
) -> None:  # fmt: skip
    payer = wallets(CNY="100")
    code = pay.merchants.create_code(teller, shop.id, amount=Money.of("100.00", "CNY"))
    paid = pay.payments.pay(customer_of(payer["CNY"]), code.payload,
                            from_account_id=payer["CNY"].id, idempotency_key="k")  # fmt: skip

    def refund(i: int) -> int:
        try:
            pay.payments.refund(teller, paid.id, amount=Money.of("30.00", "CNY"),
                                idempotency_key=f"race-{i}")  # fmt: skip
        except BusinessRuleViolation:
            return 0
        return 1

    with ThreadPoolExecutor(8) as pool:
        done = sum(pool.map(refund, range(8)))
    assert done == 3  # 3 x 30 fits in 100, a fourth does not
    assert _bal(bank, payer["CNY"].id) == Money.of("90.00", "CNY")
    assert pay.payments.get(teller, paid.id).refunded == Money.of("90.00", "CNY")
