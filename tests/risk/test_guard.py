"""The ledger honours risk: transfers are declined, stepped up or posted as the engine decides."""

from __future__ import annotations

import pytest

from finbridge.banking import BankingService, PostingGuard
from finbridge.banking.guard import PostingDeclined
from finbridge.core import ManualClock, Money, Principal
from finbridge.core.errors import StepUpRequired
from finbridge.risk.decisions import DecisionMaker
from finbridge.risk.posting import RiskGuard


@pytest.fixture
def bank(sqlite_risk: DecisionMaker, clock: ManualClock) -> BankingService:
    return BankingService(sqlite_risk.engine, clock, guard=RiskGuard(sqlite_risk))


def _funded(bank: BankingService, system: Principal, balance: str = "10000") -> str:
    cust = bank.create_customer(system, kind="personal", display_name="Guarded").id
    acc = bank.open_account(system, cust, kind="current", currency_code="CNY")
    bank.deposit(system, acc.id, Money.of(balance, "CNY"), idempotency_key=f"fund-{acc.id}")
    return acc.id


def test_guard_implements_the_protocol(sqlite_risk: DecisionMaker) -> None:
    assert isinstance(RiskGuard(sqlite_risk), PostingGuard)


def test_transfer_declined_stepped_up_and_approved(
    bank: BankingService, sqlite_risk: DecisionMaker, system: Principal, analyst: Principal
) -> None:
    src, dst = _funded(bank, system), _funded(bank, system)
    ok = bank.transfer(system, src, dst, Money.of("10", "CNY"), idempotency_key="t1")
    assert ok.amount == Money.of("10", "CNY")

    owner = bank.get_account(system, src).customer_id
    sqlite_risk.lists.add(
        analyst,
        list_kind="block",
        entity_type="customer",
        value=owner,
        reason="confirmed mule",
        source="case:7",
    )
    with pytest.raises(PostingDeclined, match="customer on block list: confirmed mule"):
        bank.transfer(system, src, dst, Money.of("10", "CNY"), idempotency_key="t2")
    assert bank.get_account(system, src).balance == Money.of("9990", "CNY")  # nothing posted


def test_step_up_is_honoured_and_no_claim_in_metadata_satisfies_it(
    bank: BankingService, sqlite_risk: DecisionMaker, system: Principal, analyst: Principal
) -> None:
    from finbridge.risk.rules import Band, RuleSetSpec, RuleSpec

    rules = RuleSetSpec(
        "stepup", (RuleSpec("big", "amount >= 5000", 70, "large transfer"),), (Band(60, "step_up"),)
    )
    stored = sqlite_risk.rule_sets.save_draft(analyst, rules)
    sqlite_risk.rule_sets.promote(analyst, stored.id)
    src, dst = _funded(bank, system), _funded(bank, system)
    # The customer's own transfer (an operator never gets a step-up: tests/hardening).
    customer = Principal.customer(bank.get_account(system, src).customer_id or "")
    with pytest.raises(StepUpRequired, match="large transfer"):
        bank.transfer(customer, src, dst, Money.of("6000", "CNY"), idempotency_key="big-1")
    # Claiming the step-up in the metadata satisfies nothing: only identity's StepUpGuard, with
    # a fresh second factor in the session, turns risk's step-up into an approval
    # (tests/identity/test_guard.py).
    with pytest.raises(StepUpRequired, match="large transfer"):
        bank.transfer(
            customer,
            src,
            dst,
            Money.of("6000", "CNY"),
            idempotency_key="big-2",
            metadata={"step_up": "passed"},
        )
    assert bank.get_account(system, dst).balance == Money.of("10000", "CNY")


def test_a_decision_keeps_the_fate_of_its_posting(
    bank: BankingService, sqlite_risk: DecisionMaker, system: Principal
) -> None:
    """Kept whatever happens: a posting the ledger refused records why on its decision."""
    from finbridge.banking.guard import PostingIntent
    from finbridge.core.errors import InsufficientFunds

    src, dst = _funded(bank, system, balance="100"), _funded(bank, system)
    guard = RiskGuard(sqlite_risk)

    def decision_of(key: str):  # type: ignore[no-untyped-def]
        intent = PostingIntent(
            system, "transfer", src, dst, None, None, Money.of("1", "CNY"),
            sqlite_risk.clock.now(), key,
        )  # fmt: skip
        return sqlite_risk.store.stored(guard.request_for(intent)["event_id"])

    bank.transfer(system, src, dst, Money.of("60", "CNY"), idempotency_key="fate-1")
    with pytest.raises(InsufficientFunds):
        bank.transfer(system, src, dst, Money.of("60", "CNY"), idempotency_key="fate-2")
    posted, failed = decision_of("fate-1"), decision_of("fate-2")
    assert posted is not None and posted.outcome == "approve"
    assert posted.posting_outcome == "posted" and posted.posting_error is None
    assert failed is not None and failed.outcome == "approve"  # the decision is kept
    assert failed.posting_outcome == "failed" and failed.posting_error
    assert failed.to_json()["posting_outcome"] == "failed"
    # A racing duplicate settling as failed never overwrites a posting that went through.
    sqlite_risk.record_posting(posted.decision_id, posted=False, reason="replayed")
    assert decision_of("fate-1").posting_outcome == "posted"
