"""Paying a merchant from a credit line goes through lending's purchase flow (issue 15): the
hold on the line is judged by the posting guard as the customer, lending captures it and books
the purchase, the merchant is credited net of the fee; refunds go back onto the line. A
declined or over-limit payment leaves nothing behind. On SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, text
from tests.lending.conftest import Checks, FixedScorer, Risk
from tests.payments.conftest import currency_sums

from finbridge.banking import (
    GuardDecision,
    InternalAccount,
    PostingDeclined,
    PostingIntent,
    Verdict,
)
from finbridge.core import (
    BusinessRuleViolation,
    InsufficientFunds,
    ManualClock,
    Money,
    Principal,
    Role,
    Settings,
)
from finbridge.lending import LendingService, Line
from finbridge.platform import Platform

SYSTEM = Principal.system("test")
ADMIN = Principal.operator("admin-1", [Role.ADMIN])


def cny(amount: str) -> Money:
    return Money.of(amount, "CNY")


@dataclass
class Guard:
    """Risk's seat in the posting path: records what it was asked, declines over a bar."""

    decline_from: Money = field(default_factory=lambda: cny("5000"))
    asked: list[PostingIntent] = field(default_factory=list)

    def check(self, intent: PostingIntent) -> GuardDecision:
        self.asked.append(intent)
        if intent.amount.code == "CNY" and intent.amount >= self.decline_from:
            return GuardDecision(Verdict.DECLINE, ("test: amount too high",), "test")
        return GuardDecision.approve("test")

    def settle(self, intent: PostingIntent, decision: GuardDecision, *, posted: bool,
               reason: str | None) -> None:  # fmt: skip
        pass


@pytest.fixture
def world(engine: Engine, settings: Settings) -> tuple[Platform, Guard]:
    clock = ManualClock(datetime(2026, 1, 6, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    platform = Platform(settings, engine, clock)
    guard = Guard()
    platform.use_posting_guard(guard)
    # Lending's own ports (credit score, applicant checks, risk opinion) as plain objects:
    # their engines test them; here the line only has to exist.
    platform._faces["lending"] = LendingService(
        engine, clock, platform.banking, checks=Checks(), scorer=FixedScorer(), risk=Risk()
    )
    platform.lending.install_catalogue(SYSTEM)
    return platform, guard


def _line(platform: Platform) -> Line:
    bank = platform.banking
    cust = bank.create_customer(SYSTEM, kind="personal", display_name="Lin Hua").id
    dep = bank.open_account(SYSTEM, cust, kind="current", currency_code="CNY").id
    app = platform.lending.apply(
        SYSTEM, cust, product_id="everyday@1", deposit_account_id=dep, income_band="medium",
        applicant={"LIMIT_BAL": 50000}, idempotency_key=f"app-{cust}",
    )  # fmt: skip
    assert app.outcome == "approved" and app.line_id is not None
    return platform.lending.line(SYSTEM, app.line_id)


def _balance(platform: Platform, account_id: str) -> Money:
    return platform.banking.balance(SYSTEM, account_id).balance


def _card_settlement(platform: Platform) -> Money:
    acc = platform.banking.internal_account_id(InternalAccount.CARD_SETTLEMENT, "CNY")
    return _balance(platform, acc)


def test_pay_a_merchant_from_a_line_and_refund_it(
    world: tuple[Platform, Guard], engine: Engine
) -> None:
    platform, guard = world
    pay, lending = platform.payments, platform.lending
    owner = platform.banking.create_customer(SYSTEM, kind="corporate", display_name="Tea House")
    shop_acc = platform.banking.open_account(SYSTEM, owner.id, kind="current", currency_code="CNY")
    shop = pay.merchants.onboard(ADMIN, name="Tea House", mcc="5812",
                                 settlement_account_id=shop_acc.id, fee_rate="0.01")  # fmt: skip
    line = _line(platform)
    me = Principal.customer(line.customer_id)
    code = pay.merchants.create_code(ADMIN, shop.id, amount=cny("200.00"))
    guard.asked.clear()

    paid = pay.payments.pay(me, code.payload, from_account_id=line.account_id,
                            idempotency_key="k1")  # fmt: skip
    # Risk was asked first about the customer's hold on the line, then about the entry that
    # moves it from card settlement to the merchant at the customer's request.
    assert [(i.kind, i.actor.id, i.from_account_id, i.amount) for i in guard.asked][:1] == [
        ("hold", me.id, line.account_id, cny("200.00"))
    ]
    assert [(i.kind, i.actor.id, i.from_customer_id, i.to_account_id)
            for i in guard.asked[1:]] == [("journal", me.id, None, shop_acc.id)]  # fmt: skip
    assert paid.purchase_id is not None and paid.fee == cny("2.00")
    purchase = lending.purchase(SYSTEM, paid.purchase_id)
    assert (purchase.status, purchase.captured, purchase.merchant) == (
        "captured", cny("200.00"), "Tea House")  # fmt: skip
    assert lending.line(me, line.id).owed == cny("200.00")
    assert _balance(platform, line.account_id) == cny("-200.00")
    assert _balance(platform, shop_acc.id) == cny("198.00")
    assert _card_settlement(platform) == Money.zero("CNY")
    # A retry with the same key returns the payment and charges the line once.
    again = pay.payments.pay(me, code.payload, from_account_id=line.account_id,
                             idempotency_key="k1")  # fmt: skip
    assert again.replayed and again.id == paid.id
    assert lending.line(me, line.id).owed == cny("200.00")

    # Refunds in two parts go back onto the line (lending books them) and return the fee.
    pay.payments.refund(ADMIN, paid.id, amount=cny("50.00"), idempotency_key="r1")
    assert lending.line(me, line.id).owed == cny("150.00")
    assert lending.purchase(SYSTEM, paid.purchase_id).refunded == cny("50.00")
    pay.payments.refund(ADMIN, paid.id, idempotency_key="r2")
    assert lending.line(me, line.id).owed == Money.zero("CNY")
    assert _balance(platform, line.account_id) == Money.zero("CNY")
    assert _balance(platform, shop_acc.id) == Money.zero("CNY")
    assert _card_settlement(platform) == Money.zero("CNY")
    with pytest.raises(BusinessRuleViolation, match="refund over the paid amount"):
        pay.payments.refund(ADMIN, paid.id, amount=cny("0.01"), idempotency_key="r3")
    assert set(currency_sums(engine).values()) == {0}


def test_declined_or_over_limit_leaves_nothing(world: tuple[Platform, Guard]) -> None:
    platform, guard = world
    pay = platform.payments
    owner = platform.banking.create_customer(SYSTEM, kind="corporate", display_name="Tea House")
    shop_acc = platform.banking.open_account(SYSTEM, owner.id, kind="current", currency_code="CNY")
    shop = pay.merchants.onboard(ADMIN, name="Tea House", mcc="5812",
                                 settlement_account_id=shop_acc.id, fee_rate="0.01")  # fmt: skip
    line = _line(platform)
    me = Principal.customer(line.customer_id)

    big = pay.merchants.create_code(ADMIN, shop.id, amount=cny("6000.00"))
    with pytest.raises(PostingDeclined):  # the guard (risk) says no
        pay.payments.pay(me, big.payload, from_account_id=line.account_id, idempotency_key="d")
    over = line.limit + cny("1")
    guard.decline_from = over + cny("1")
    code = pay.merchants.create_code(ADMIN, shop.id, amount=over)
    with pytest.raises(InsufficientFunds) as err:  # over the line's limit
        pay.payments.pay(me, code.payload, from_account_id=line.account_id, idempotency_key="o")
    assert err.value.field == "amount"
    assert pay.payments.search(me) == []
    assert platform.banking.balance(SYSTEM, line.account_id).available == Money.zero("CNY")
    assert platform.lending.line(me, line.id).owed == Money.zero("CNY")
    assert _card_settlement(platform) == Money.zero("CNY")
    # The line still pays once the amount is within its limit and risk's bar.
    small = pay.merchants.create_code(ADMIN, shop.id, amount=cny("10"))
    done = pay.payments.pay(me, small.payload, from_account_id=line.account_id,
                            idempotency_key="s")  # fmt: skip
    assert done.amount == cny("10")


def test_a_line_still_cannot_send_p2p(world: tuple[Platform, Guard]) -> None:
    platform, _ = world
    line = _line(platform)
    other = _line(platform)
    me = Principal.customer(line.customer_id)
    with pytest.raises(BusinessRuleViolation, match="credit line") as err:
        platform.payments.payments.send(me, from_account_id=line.account_id, amount=cny("5"),
                                        to_account_id=other.deposit_account_id,
                                        idempotency_key="p")  # fmt: skip
    assert err.value.field == "from_account_id"
    with engine_of(platform).connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM payments_payments")).scalar() == 0


def engine_of(platform: Platform) -> Engine:
    return platform.engine
