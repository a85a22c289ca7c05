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
    # Risk was asked about the customer's hold on the line; the entry that moves the money on
    # from card settlement to the merchant comes at the customer's request under the hold's own
    # key, so a guard keyed by actor and key (risk's) meets the same decision again.
    hold, onward = guard.asked
    assert (hold.kind, hold.actor.id, hold.from_account_id, hold.amount) == (
        "hold", me.id, line.account_id, cny("200.00"))  # fmt: skip
    assert (onward.kind, onward.actor.id, onward.from_customer_id, onward.to_account_id) == (
        "journal", me.id, None, shop_acc.id)  # fmt: skip
    assert onward.idempotency_key == hold.idempotency_key
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


def _shop(platform: Platform) -> tuple[str, str]:
    """A merchant (1% fee) and its settlement account."""
    owner = platform.banking.create_customer(SYSTEM, kind="corporate", display_name="Tea House")
    acc = platform.banking.open_account(SYSTEM, owner.id, kind="current", currency_code="CNY").id
    shop = platform.payments.merchants.onboard(
        ADMIN, name="Tea House", mcc="5812", settlement_account_id=acc, fee_rate="0.01"
    )
    return shop.id, acc


def test_risk_decides_a_line_payment_once(engine: Engine, settings: Settings) -> None:
    """With the real risk engine as the guard: one stored decision per payment, from a line
    as from a deposit account, with the posting's fate on it."""
    from tests.risk.conftest import make_maker

    from finbridge.risk.decisions import DecisionOptions
    from finbridge.risk.posting import RiskGuard

    clock = ManualClock(datetime(2026, 1, 6, 2, 0, tzinfo=UTC))
    real = Platform(settings, engine, clock)
    maker = make_maker(engine, clock, options=DecisionOptions(rules_refresh_s=0.0))
    real.use_posting_guard(RiskGuard(maker))
    real._faces["lending"] = LendingService(
        engine, clock, real.banking, checks=Checks(), scorer=FixedScorer(), risk=Risk()
    )
    real.lending.install_catalogue(SYSTEM)
    shop, _ = _shop(real)
    line = _line(real)
    me = Principal.customer(line.customer_id)
    dep = line.deposit_account_id
    real.banking.deposit(SYSTEM, dep, cny("500"), idempotency_key=f"fund-{dep}")

    def decisions() -> list[tuple[str | None, str, str | None]]:
        """Every live decision risk stored (whoever it names as the customer)."""
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT customer_id, outcome, posting_outcome FROM risk_decisions"
                     " WHERE mode = 'live' ORDER BY decided_at")
            ).all()  # fmt: skip
        return [(r[0], r[1], r[2]) for r in rows]

    assert decisions() == []

    from_line = real.payments.merchants.create_code(ADMIN, shop, amount=cny("88.00"))
    paid = real.payments.payments.pay(me, from_line.payload, from_account_id=line.account_id,
                                      idempotency_key="once")  # fmt: skip
    assert paid.purchase_id is not None
    assert decisions() == [(me.customer_id, "approve", "posted")]
    from_deposit = real.payments.merchants.create_code(ADMIN, shop, amount=cny("12.00"))
    real.payments.payments.pay(me, from_deposit.payload, from_account_id=dep,
                               idempotency_key="dep")  # fmt: skip
    assert decisions() == [(me.customer_id, "approve", "posted")] * 2
    # A retry of the paid key replays the payment and asks nobody again.
    real.payments.payments.pay(me, from_line.payload, from_account_id=line.account_id,
                               idempotency_key="once")  # fmt: skip
    assert len(decisions()) == 2
    real.close()


def test_a_failed_capture_voids_the_purchase(
    world: tuple[Platform, Guard], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The capture fails after the hold: the hold is given back and lending's purchase is
    released, the payment is gone, and the line and the books are as before."""
    platform, _ = world
    shop, shop_acc = _shop(platform)
    line = _line(platform)
    me = Principal.customer(line.customer_id)
    code = platform.payments.merchants.create_code(ADMIN, shop, amount=cny("300.00"))

    def broken(*args: object, **kwargs: object) -> object:
        raise ConnectionError("ledger unreachable")

    monkeypatch.setattr(platform.banking, "capture_hold", broken)
    with pytest.raises(ConnectionError):
        platform.payments.payments.pay(me, code.payload, from_account_id=line.account_id,
                                       idempotency_key="k")  # fmt: skip
    with engine.connect() as conn:
        purchases = conn.execute(text("SELECT status FROM lending_purchases")).scalars().all()
        holds = conn.execute(
            text("SELECT status FROM banking_holds WHERE account_id = :a"),
            {"a": line.account_id},
        ).scalars().all()  # fmt: skip
        payments = conn.execute(text("SELECT COUNT(*) FROM payments_payments")).scalar()
    assert purchases == ["released"] and holds == ["released"] and payments == 0
    assert platform.banking.balance(SYSTEM, line.account_id).available == Money.zero("CNY")
    assert platform.lending.line(me, line.id).owed == Money.zero("CNY")
    assert _balance(platform, shop_acc) == Money.zero("CNY")
    assert _card_settlement(platform) == Money.zero("CNY")
    # Voiding again changes nothing; the code was given back, so the customer can pay it.
    platform.lending.void_purchase(SYSTEM, purchases_id(engine), reason="again")
    monkeypatch.undo()
    paid = platform.payments.payments.pay(me, code.payload, from_account_id=line.account_id,
                                          idempotency_key="k2")  # fmt: skip
    assert platform.lending.purchase(SYSTEM, paid.purchase_id or "").status == "captured"
    assert set(currency_sums(engine).values()) == {0}


def test_a_capture_booked_late_completes_the_payment(
    world: tuple[Platform, Guard], engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger takes the capture but lending's booking fails: the purchase cannot be voided
    (its money moved), so the same idempotent capture completes the booking and the payment
    goes through once; the line owes exactly the purchase."""
    platform, _ = world
    shop, shop_acc = _shop(platform)
    line = _line(platform)
    me = Principal.customer(line.customer_id)
    code = platform.payments.merchants.create_code(ADMIN, shop, amount=cny("300.00"))
    lending = platform.lending
    book = lending._book
    failures = [RuntimeError("booking lost")]

    def flaky(line_id: str, kind: str, *args: object, **kwargs: object) -> bool:
        if kind == "purchase" and failures:
            raise failures.pop()
        return book(line_id, kind, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(lending, "_book", flaky)
    paid = platform.payments.payments.pay(me, code.payload, from_account_id=line.account_id,
                                          idempotency_key="k")  # fmt: skip
    assert failures == []  # the booking did fail once
    purchase = lending.purchase(SYSTEM, paid.purchase_id or "")
    assert (purchase.status, purchase.captured) == ("captured", cny("300.00"))
    assert lending.line(me, line.id).owed == cny("300.00")
    assert _balance(platform, line.account_id) == cny("-300.00")
    assert _balance(platform, shop_acc) == cny("297.00")
    assert _card_settlement(platform) == Money.zero("CNY")
    assert set(currency_sums(engine).values()) == {0}


def purchases_id(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT id FROM lending_purchases")).scalar_one())
