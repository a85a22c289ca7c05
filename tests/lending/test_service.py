"""The service's refusals (each naming its field, nothing half-written), declines with
reasons, reproducible decisions, authorisation, and who the posting guard sees."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from tests.lending.conftest import OPS, World, cny, key

from finbridge.banking import BankingService, GuardDecision, PostingIntent
from finbridge.core import Principal
from finbridge.core.errors import (
    Conflict,
    CurrencyMismatch,
    InsufficientFunds,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from finbridge.core.money import Money
from finbridge.lending import LendingService, ProductTerms, parse_catalogue
from finbridge.lending.tables import ActivityRow, ApplicationRow
from finbridge.store import unit_of_work

CATALOGUE = """
products:
  - {code: bad, version: 1, currency: CNY, limit_min: "1.00", limit_max: "9.00",
     statement_day: 31, due_days: 20, daily_rate: "0.0005", cash_daily_rate: "0.0005",
     min_payment_pct: "0.1", min_payment_floor: "1.00", late_fee: "1.00", grace_days: 0,
     suspend_at_dpd: 31, charge_off_dpd: 180, instalment_fee_pct_per_period: "0.006"}
"""


def _count(world: World, table: Any) -> int:
    with unit_of_work(world.engine) as s:
        return int(s.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_statement_day_that_does_not_exist_in_every_month_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        parse_catalogue(CATALOGUE)
    assert exc.value.field == "statement_day"


def test_a_published_product_version_is_never_changed(world: World) -> None:
    terms = world.svc.product(OPS, "everyday@1")
    changed = ProductTerms.parse({**terms.to_json(), "late_fee": "99.00"})
    with pytest.raises(Conflict, match="new version"):
        world.svc.install(OPS, [changed], [])


def test_bad_input_names_the_field_and_writes_nothing(world: World) -> None:
    line = world.line()
    before = _count(world, ActivityRow)
    cases = [
        (lambda: world.svc.authorise_purchase(OPS, line.id, cny("20000.01"), merchant="JD",
                                              idempotency_key="x"), InsufficientFunds, "amount"),
        (lambda: world.svc.repay(OPS, line.id, Money.of("5", "USD"), idempotency_key="x"),
         CurrencyMismatch, "currency"),
        (lambda: world.svc.borrow_cash(OPS, "nope", cny("5"), idempotency_key="x"),
         NotFound, "line_id"),
        (lambda: world.svc.authorise_purchase(OPS, line.id, cny("5"), merchant="",
                                              idempotency_key="x"), ValidationError, "merchant"),
    ]  # fmt: skip
    for call, error, field in cases:
        with pytest.raises(error) as exc:
            call()
        assert exc.value.field == field
    pid = world.buy(line, "10.00")
    with pytest.raises(ValidationError) as exc:
        world.svc.refund(OPS, pid, cny("10.01"), idempotency_key="r")
    assert exc.value.field == "amount"
    assert _count(world, ActivityRow) == before + 1  # only the purchase
    with pytest.raises(NotFound) as exc:
        world.svc.apply(OPS, "c", product_id="nope@9", deposit_account_id="a",
                        income_band="medium", applicant={}, idempotency_key="k")  # fmt: skip
    assert exc.value.field == "product_id"


def test_declines_carry_reasons_and_decisions_are_reproducible(world: World) -> None:
    cust, acc = world.customer()

    def apply(band: str, k: str, applicant: dict[str, Any] | None = None) -> Any:
        return world.svc.apply(
            OPS, cust, product_id="everyday@1", deposit_account_id=acc, income_band=band,
            applicant=applicant or {}, idempotency_key=k,
        )  # fmt: skip

    world.checks.refusals[cust] = ("no consent to credit scoring is on record",)
    declined = apply("medium", "d1")
    assert declined.outcome == "declined" and declined.line_id is None
    assert declined.reasons == ("no consent to credit scoring is on record",)
    world.checks.refusals.clear()
    world.scorer.score_value = 500
    low = apply("medium", "d2")
    assert low.outcome == "declined" and "below the policy minimum 560" in low.reasons[0]
    world.scorer.score_value = 690
    ok = apply("high", "d3", {"PAY_0": 1})
    assert ok.outcome == "approved" and ok.limit == cny("30000.00")  # 20,000 x 1.5
    assert ok.score_model == "test_scorecard@1" and ok.score_reasons
    assert world.svc.reproduce(OPS, ok.id) == {"outcome": "approved", "limit_minor": 3_000_000}
    # Existing exposure is deducted: a second line for the same customer is smaller.
    again = apply("high", "d4")
    assert again.outcome == "declined" and "after existing exposure" in again.reasons[0]
    # A retry returns the stored decision, whatever the model says now.
    world.scorer.score_value = 800
    assert apply("high", "d3") == ok
    assert _count(world, ApplicationRow) == 4


def test_customers_see_only_their_own_lines(world: World) -> None:
    line = world.line()
    stranger = Principal.customer("someone-else")
    with pytest.raises(NotFound):
        world.svc.line(stranger, line.id)
    assert world.svc.lines(stranger) == []
    owner = Principal.customer(line.customer_id)
    assert world.svc.line(owner, line.id).id == line.id
    with pytest.raises(PermissionDenied):
        world.svc.portfolio(owner)
    with pytest.raises(PermissionDenied):
        world.svc.line(Principal.operator("q", []), line.id)


class _Recorder:
    def __init__(self) -> None:
        self.actors: list[str] = []

    def check(self, intent: PostingIntent) -> GuardDecision:
        self.actors.append(intent.actor.kind.value)
        return GuardDecision.approve("t")

    def settle(self, *args: Any, **kw: Any) -> None:
        return None


def test_the_posting_guard_sees_the_customer_who_spends(world: World) -> None:
    line = world.line()
    guard = _Recorder()
    guarded = BankingService(world.engine, world.clock, guard=guard)
    svc = LendingService(world.engine, world.clock, guarded, bank_postings=world.banking)
    owner = Principal.customer(line.customer_id)
    svc.authorise_purchase(owner, line.id, cny("12.00"), merchant="JD", idempotency_key=key())
    svc.borrow_cash(owner, line.id, cny("5.00"), idempotency_key=key())
    assert guard.actors == ["customer", "customer"]
