"""Fund orders on the real ledger (SQLite and PostgreSQL): cash at order, units at the NAV
after the settlement lag, fees, idempotency, holdings with cost basis, redemptions."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import ROUND_DOWN, Decimal

import pytest
from sqlalchemy import Engine
from tests.advisory.conftest import BALANCED, FakeSecondFactor, new_customer

from finbridge.advisory import AdvisoryService, SuitabilityRefused
from finbridge.advisory.catalogue import load_prices
from finbridge.banking import (
    BankingService,
    GuardDecision,
    InternalAccount,
    PostingDeclined,
    PostingIntent,
    Verdict,
)
from finbridge.core import ManualClock, Principal, Settings
from finbridge.core.errors import (
    BusinessRuleViolation,
    IdempotencyConflict,
    PermissionDenied,
    ValidationError,
)
from finbridge.core.money import Money

SYSTEM = Principal.system("test")


def usd(x: str) -> Money:
    return Money.of(x, "USD")


@pytest.fixture
def in_2017(clock: ManualClock) -> ManualClock:
    # Thursday 2017-06-01, 10:00 in Shanghai: inside the shipped price history.
    clock.set(dt.datetime(2017, 6, 1, 2, 0, tzinfo=dt.UTC))
    return clock


def funded(service: AdvisoryService) -> tuple[str, str, Principal]:
    customer = new_customer(service)
    service.submit_profile(SYSTEM, customer, BALANCED)  # C3
    account = service.banking.open_account(SYSTEM, customer, kind="current", currency_code="USD")
    service.banking.deposit(SYSTEM, account.id, usd("10000"), idempotency_key=f"d-{customer}")
    return customer, account.id, Principal.customer(customer, session_id="s1")


def balance(service: AdvisoryService, account_id: str) -> Money:
    return service.banking.balance(SYSTEM, account_id).balance


def test_subscription_settles_at_the_next_nav_after_the_lag(
    service: AdvisoryService, in_2017: ManualClock
) -> None:
    customer, account, me = funded(service)
    order = service.subscribe(
        me, customer, account_id=account, product_code="AGG", amount=usd("1000"),
        idempotency_key="k1",
    )  # fmt: skip
    assert order.status == "pending" and order.settle_date == dt.date(2017, 6, 2)  # T+1
    assert order.fee == usd("1.00")  # 0.10%
    assert balance(service, account) == usd("9000")  # cash debited at order
    clearing = service.banking.internal_account_id(InternalAccount.CLEARING, "USD")
    assert balance(service, clearing) == usd("1000")
    # a retry is the same order; the same key for another order is refused
    again = service.subscribe(
        me, customer, account_id=account, product_code="AGG", amount=usd("1000"),
        idempotency_key="k1",
    )  # fmt: skip
    assert again.id == order.id and balance(service, account) == usd("9000")
    with pytest.raises(IdempotencyConflict):
        service.subscribe(
            me, customer, account_id=account, product_code="AGG", amount=usd("2000"),
            idempotency_key="k1",
        )  # fmt: skip
    assert service.settle_due(SYSTEM) == []  # not yet: T+1
    in_2017.advance(dt.timedelta(days=1))
    [settled] = service.settle_due(SYSTEM)
    prices = load_prices()
    nav_day, nav = prices.nav_on_or_after("AGG", dt.date(2017, 6, 2))
    assert nav_day == dt.date(2017, 6, 2)
    expected_units = (Decimal("999.00") / Decimal(f"{nav:.6f}")).quantize(
        Decimal("0.00000001"), ROUND_DOWN
    )
    assert settled.units == expected_units and settled.status == "settled"
    fees = service.banking.internal_account_id(InternalAccount.FEE_INCOME, "USD")
    assert balance(service, fees) == usd("1.00")
    assert balance(service, clearing) == usd("999.00")
    [holding] = service.holdings(me, customer)
    assert holding.units == expected_units and holding.cost == usd("1000")
    assert holding.value.amount == (expected_units * holding.nav).quantize(
        Decimal("0.01"), ROUND_DOWN
    )
    assert service.settle_due(SYSTEM) == []  # settled once


def test_redemption_reserves_units_and_pays_at_settlement(
    service: AdvisoryService, in_2017: ManualClock
) -> None:
    customer, account, me = funded(service)
    service.subscribe(me, customer, account_id=account, product_code="SHY",
                      amount=usd("2000"), idempotency_key="buy")  # fmt: skip
    in_2017.advance(dt.timedelta(days=1))
    service.settle_due(SYSTEM)
    [held] = service.holdings(me, customer)
    half = (held.units / 2).quantize(Decimal("0.00000001"), ROUND_DOWN)
    order = service.redeem(me, customer, account_id=account, product_code="SHY", units=half,
                           idempotency_key="sell")  # fmt: skip
    assert order.side == "redeem" and service.holdings(me, customer)[0].units == held.units - half
    with pytest.raises(BusinessRuleViolation):  # the reserved units cannot be sold again
        service.redeem(me, customer, account_id=account, product_code="SHY",
                       units=held.units, idempotency_key="sell2")  # fmt: skip
    before = balance(service, account)
    in_2017.advance(dt.timedelta(days=1))  # Saturday: T+1 is Monday
    assert service.settle_due(SYSTEM) == []
    in_2017.advance(dt.timedelta(days=2))
    [paid] = service.settle_due(SYSTEM)
    assert paid.nav is not None
    payout = Money.of((half * paid.nav).quantize(Decimal("0.01"), ROUND_DOWN), "USD")
    assert balance(service, account) == before + payout


@pytest.mark.parametrize(
    ("product", "amount", "field"),
    [
        ("AGG", Money.of("1000", "CNY"), "currency"),
        ("AGG", Money.of("50", "USD"), "amount"),
        ("FB-USD-DEP", Money.of("500", "USD"), "amount"),
    ],
)
def test_bad_orders_write_nothing(
    service: AdvisoryService, in_2017: ManualClock, product: str, amount: Money, field: str
) -> None:
    customer, account, me = funded(service)
    with pytest.raises(ValidationError) as info:
        service.subscribe(me, customer, account_id=account, product_code=product,
                          amount=amount, idempotency_key="bad")  # fmt: skip
    assert info.value.field == field
    assert balance(service, account) == usd("10000")
    assert service.orders(me, customer) == []
    assert service.evidence(me) == []  # refused before the suitability check


def test_above_level_purchase_is_refused_without_confirmation(
    service: AdvisoryService, in_2017: ManualClock
) -> None:
    customer, account, me = funded(service)
    with pytest.raises(SuitabilityRefused) as info:
        service.subscribe(me, customer, account_id=account, product_code="SSO",
                          amount=usd("500"), idempotency_key="lev")  # fmt: skip
    assert info.value.extra["outcome"] == "warning_required" and info.value.extra["warning_code"]
    assert balance(service, account) == usd("10000")
    assert service.orders(me, customer) == []
    assert [d.outcome for d in service.evidence(me)] == ["warning_required"]


def test_expired_profile_blocks_purchases(service: AdvisoryService, in_2017: ManualClock) -> None:
    customer, account, me = funded(service)
    in_2017.advance(dt.timedelta(days=366))
    with pytest.raises(SuitabilityRefused) as info:
        service.subscribe(me, customer, account_id=account, product_code="SHV",
                          amount=usd("500"), idempotency_key="late")  # fmt: skip
    assert info.value.extra["outcome"] == "profile_expired"
    assert balance(service, account) == usd("10000")


def test_only_the_bank_settles(service: AdvisoryService) -> None:
    customer = new_customer(service)
    with pytest.raises(PermissionDenied):
        service.settle_due(Principal.customer(customer))


class DeclineAll:
    """A guard standing in for the risk engine's refusal."""

    def check(self, intent: PostingIntent) -> GuardDecision:
        return GuardDecision(Verdict.DECLINE, ("test: declined",), "decline-all")

    def check_many(self, intents: Sequence[PostingIntent]) -> list[GuardDecision]:
        return [self.check(i) for i in intents]

    def settle(self, intent: PostingIntent, decision: GuardDecision, *, posted: bool,
               reason: str | None) -> None:  # fmt: skip
        return None


def test_a_declined_order_moves_nothing(
    engine: Engine, clock: ManualClock, settings: Settings, second_factor: FakeSecondFactor
) -> None:
    clock.set(dt.datetime(2017, 6, 1, 2, 0, tzinfo=dt.UTC))
    open_service = AdvisoryService.build(
        engine, clock, settings, banking=BankingService(engine, clock),
        second_factor=second_factor,
    )  # fmt: skip
    customer, account, me = funded(open_service)
    guarded = AdvisoryService.build(
        engine, clock, settings, banking=BankingService(engine, clock, guard=DeclineAll()),
        second_factor=second_factor,
    )  # fmt: skip
    with pytest.raises(PostingDeclined):
        guarded.subscribe(me, customer, account_id=account, product_code="AGG",
                          amount=usd("1000"), idempotency_key="no")  # fmt: skip
    assert balance(guarded, account) == usd("10000")
    assert guarded.orders(me, customer) == []
