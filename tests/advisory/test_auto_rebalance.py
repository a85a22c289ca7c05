"""Automatic rebalancing for customers who opted in, pending orders in proposals, and the
suitability evidence in identity's audit log (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select
from tests.advisory.conftest import BALANCED, FakeSecondFactor, new_customer

from finbridge.advisory import AdvisoryService, ModelReport
from finbridge.banking import BankingService
from finbridge.core import ManualClock, Principal, Settings
from finbridge.core.errors import NotFound, PermissionDenied
from finbridge.core.money import Money
from finbridge.core.principal import Role
from finbridge.identity import AuditLog
from finbridge.lake.tables import OutboxRow

SYSTEM = Principal.system("test")


def usd(x: str) -> Money:
    return Money.of(x, "USD")


@pytest.fixture
def ready(
    service: AdvisoryService, clock: ManualClock, small_models: ModelReport
) -> AdvisoryService:
    clock.set(dt.datetime(2017, 6, 1, 2, 0, tzinfo=dt.UTC))  # inside the shipped NAV history
    service.use_models(small_models)
    return service


def all_in_bonds(service: AdvisoryService, cash: str) -> tuple[str, str]:
    """A C3 customer holding one bond fund (far from the C3 model), ``cash`` left over."""
    customer = new_customer(service)
    service.submit_profile(SYSTEM, customer, BALANCED)
    account = service.banking.open_account(SYSTEM, customer, kind="current", currency_code="USD")
    service.banking.deposit(SYSTEM, account.id, usd("3000") + usd(cash), idempotency_key=customer)
    service.subscribe(Principal.customer(customer), customer, account_id=account.id,
                      product_code="AGG", amount=usd("3000"), idempotency_key="agg")  # fmt: skip
    return customer, account.id


def rebalanced(engine: Engine) -> list[tuple[str | None, dict[str, object]]]:
    """The ``advisory.rebalanced`` events in the outbox, oldest first."""
    query = (
        select(OutboxRow.subject_id, OutboxRow.payload)
        .where(OutboxRow.event_type == "advisory.rebalanced")
        .order_by(OutboxRow.seq)
    )
    with engine.connect() as conn:
        return [(subject, dict(payload)) for subject, payload in conn.execute(query)]


def test_accepting_a_proposal_emits_one_rebalanced_event(
    ready: AdvisoryService, clock: ManualClock, engine: Engine
) -> None:
    customer, account = all_in_bonds(ready, "4000")
    clock.advance(dt.timedelta(days=1))
    ready.settle_due(SYSTEM)
    me = Principal.customer(customer)
    proposal = ready.rebalance_proposal(me, customer)
    orders = ready.accept_rebalance(me, customer, account_id=account, new_cash=usd("0"),
                                    idempotency_key="accept-1")  # fmt: skip
    assert len(orders) > 1
    retry = ready.accept_rebalance(me, customer, account_id=account, new_cash=usd("0"),
                                   idempotency_key="accept-1")  # fmt: skip
    assert [o.id for o in retry] == [o.id for o in orders]
    [(subject, payload)] = rebalanced(engine)  # once, by the customer, not again on the retry
    assert subject == customer
    drift = pytest.approx(proposal.largest_drift, abs=1e-6)
    assert payload == {"automatic": False, "orders": len(orders), "largest_drift": drift}
    assert proposal.largest_drift == pytest.approx(1 - proposal.target["AGG"])  # all in AGG


def test_a_pending_subscription_counts_in_the_next_proposal(ready: AdvisoryService) -> None:
    customer, _account = all_in_bonds(ready, "0")
    me = Principal.customer(customer)
    # Not settled yet: no units, but the 3,000 paid for AGG is on its way to it.
    assert ready.holdings(me, customer) == []
    proposal = ready.rebalance_proposal(me, customer)
    assert proposal.weights["AGG"] == pytest.approx(1.0)
    [order] = ready.orders(me, customer)
    assert proposal.total == order.amount - order.fee == usd("3000") - order.fee
    assert any(t.product_code == "AGG" and t.side == "sell" for t in proposal.trades)
    assert [c for c, _ in ready.nightly_drift(SYSTEM)] == [customer]


def test_the_nightly_job_rebalances_only_who_opted_in(
    ready: AdvisoryService, clock: ManualClock, engine: Engine
) -> None:
    opted, opted_account = all_in_bonds(ready, "4000")
    manual, _ = all_in_bonds(ready, "4000")
    broke, broke_account = all_in_bonds(ready, "0")  # opted in, no cash for the buys
    clock.advance(dt.timedelta(days=1))
    ready.settle_due(SYSTEM)
    for customer, account in ((opted, opted_account), (broke, broke_account)):
        ready.choose_rebalancing(Principal.customer(customer), customer, account_id=account,
                                 automatic=True)  # fmt: skip
    day = dt.date(2017, 6, 2)
    run = ready.rebalance_automatically(SYSTEM, day)
    assert run.opted_in == 2 and run.drifted == 2
    assert run.rebalanced == (opted,)
    assert "the buys need" in run.skipped[broke]
    placed = ready.orders(SYSTEM, opted)
    assert {(o.side, o.product_code) for o in placed} >= {("redeem", "AGG")}
    assert any(o.side == "subscribe" and o.product_code != "AGG" for o in placed)
    assert len(ready.orders(SYSTEM, manual)) == 1  # only its own AGG order
    # A rerun of the same night (a resumed close of business) places nothing new.
    again = ready.rebalance_automatically(SYSTEM, day)
    assert again.rebalanced == (opted,) and len(ready.orders(SYSTEM, opted)) == len(placed)
    # accept_rebalance told it once, as automatic (the job's actor), the rerun not again
    [(subject, payload)] = rebalanced(engine)
    assert subject == opted and payload["automatic"] is True
    assert payload["orders"] == len(placed) - 1  # all but the customer's own AGG purchase


def test_only_the_customer_opts_in_to_their_own_account(ready: AdvisoryService) -> None:
    customer, account = all_in_bonds(ready, "0")
    other, other_account = all_in_bonds(ready, "0")
    me = Principal.customer(customer)
    assert ready.rebalancing_choice(me, customer) is None
    adviser = Principal.operator("op-1", [Role.ADVISER])
    with pytest.raises(PermissionDenied):
        ready.choose_rebalancing(adviser, customer, account_id=account, automatic=True)
    with pytest.raises(NotFound):
        ready.choose_rebalancing(me, customer, account_id=other_account, automatic=True)
    with pytest.raises(NotFound):
        ready.rebalancing_choice(me, other)
    chosen = ready.choose_rebalancing(me, customer, account_id=account, automatic=True)
    assert chosen.automatic and ready.rebalancing_choice(adviser, customer) == chosen
    off = ready.choose_rebalancing(me, customer, account_id=account, automatic=False)
    assert not off.automatic
    assert ready.rebalance_automatically(SYSTEM, dt.date(2017, 6, 2)).opted_in == 0
    with pytest.raises(PermissionDenied):
        ready.rebalance_automatically(me, dt.date(2017, 6, 2))


def test_suitability_evidence_is_in_the_audit_log(
    engine: Engine, clock: ManualClock, settings: Settings, small_models: ModelReport
) -> None:
    clock.set(dt.datetime(2017, 6, 1, 2, 0, tzinfo=dt.UTC))
    audit = AuditLog(engine, clock, b"k" * 32)
    service = AdvisoryService.build(
        engine, clock, settings, banking=BankingService(engine, clock),
        second_factor=FakeSecondFactor(), audit=audit,
    )  # fmt: skip
    customer = new_customer(service)
    service.submit_profile(SYSTEM, customer, BALANCED)  # C3
    me = Principal.customer(customer)
    fine = service.check_suitability(me, customer, "AGG")
    above = service.check_suitability(me, customer, "SPY")  # R4 for a C3
    assert fine.allowed and not above.allowed
    entries = [e for e in audit.entries(subject=customer) if e.action == "advisory.suitability"]
    assert sorted(e.detail["record_id"] for e in entries) == sorted([fine.id, above.id])
    assert {e.outcome for e in entries} == {str(fine.outcome), str(above.outcome)}
    assert audit.verify().ok


def test_the_level_offered_follows_the_live_profile(
    service: AdvisoryService, clock: ManualClock
) -> None:
    customer = new_customer(service)
    assert service.suitable_level(SYSTEM, customer) == 0  # no profile: nothing above R1 sold
    service.submit_profile(SYSTEM, customer, BALANCED)
    assert service.suitable_level(SYSTEM, customer) == 3
    clock.advance(dt.timedelta(days=366))  # the profile expires after 365 days
    assert service.suitable_level(SYSTEM, customer) == 0
    with pytest.raises(NotFound):
        service.suitable_level(Principal.customer(new_customer(service, "Bo")), customer)
