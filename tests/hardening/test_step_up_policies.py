"""Step-up on the cumulative amount over 24 hours (no split-transfer bypass), and operator
policies instead of a step-up an operator can never give. Real identity, risk and ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine
from tests.identity.conftest import PASSWORD, ZHANG, enrol_totp, totp_code
from tests.risk.conftest import make_maker

from finbridge.banking import BankingService, PostingDeclined
from finbridge.core import ManualClock, Money, Principal, Role, Settings, StepUpRequired
from finbridge.core.errors import PendingApproval
from finbridge.identity import StepUpGuard
from finbridge.identity.services import IdentityServices
from finbridge.risk.decisions import DecisionMaker, DecisionOptions
from finbridge.risk.posting import RiskGuard

TELLER = Principal.operator("teller", [Role.TELLER])
ANALYST = Principal.operator("ana", [Role.RISK_ANALYST])


class _Customers:
    bank: BankingService

    def create(self, display_name: str) -> str:
        return self.bank.create_customer(
            Principal.system("identity"), kind="personal", display_name=display_name
        ).id

    def discard(self, customer_id: str) -> None:
        raise AssertionError("registration did not fail")


def _world(engine: Engine, clock: ManualClock, settings: Settings):  # type: ignore[no-untyped-def]
    maker = make_maker(engine, clock, options=DecisionOptions(rules_refresh_s=0.0))
    customers = _Customers()
    ids = IdentityServices.build(engine, clock, settings, customers=customers)
    limits = StepUpGuard(ids.step_up).large
    guard = StepUpGuard(ids.step_up, RiskGuard(maker, cumulative_limits=limits))
    bank = BankingService(engine, clock, guard=guard)
    customers.bank = bank
    cid = ids.persons.register(ZHANG, password=PASSWORD).customer_id
    a = bank.open_account(TELLER, cid, kind="current", currency_code="TWD").id
    b = bank.open_account(TELLER, cid, kind="savings", currency_code="TWD").id
    bank.deposit(TELLER, a, Money.of("1000000", "TWD"), idempotency_key="seed")
    return maker, ids, bank, cid, a, b


def test_a_split_transfer_steps_up_on_the_cumulative_amount(
    engine: Engine, clock: ManualClock, settings: Settings
) -> None:
    _maker, ids, bank, cid, a, b = _world(engine, clock, settings)
    tokens = ids.login.start(ZHANG.phone, PASSWORD).tokens
    assert tokens is not None  # password only: no second factor in this session
    me = ids.sessions.authenticate(tokens.access_token)
    bank.transfer(me, a, b, Money.of("199999", "TWD"), idempotency_key="s1")
    clock.advance(timedelta(seconds=1))
    with pytest.raises(StepUpRequired, match=r"totalling 200,000\.00 TWD"):
        bank.transfer(me, a, b, Money.of("100000", "TWD"), idempotency_key="s2")
    with pytest.raises(StepUpRequired):  # a retry of the key replays the decision: still asks
        bank.transfer(me, a, b, Money.of("100000", "TWD"), idempotency_key="s2")
    assert bank.balance(me, b).balance == Money.of("199999", "TWD")
    # The real customer gives the factor and the same request goes through.
    secret, _ = enrol_totp(ids, clock, cid)
    ids.step_up.with_totp(me, totp_code(secret, clock))
    bank.transfer(me, a, b, Money.of("100000", "TWD"), idempotency_key="s2")
    assert bank.balance(me, b).balance == Money.of("299999", "TWD")


def test_small_transfers_outside_the_window_do_not_add_up(
    engine: Engine, clock: ManualClock, settings: Settings
) -> None:
    _maker, ids, bank, _cid, a, b = _world(engine, clock, settings)
    me = ids.sessions.authenticate(ids.login.start(ZHANG.phone, PASSWORD).tokens.access_token)  # type: ignore[union-attr]
    bank.transfer(me, a, b, Money.of("150000", "TWD"), idempotency_key="w1")
    clock.advance(timedelta(hours=25))
    me = ids.sessions.authenticate(ids.login.start(ZHANG.phone, PASSWORD).tokens.access_token)  # type: ignore[union-attr]
    bank.transfer(me, a, b, Money.of("150000", "TWD"), idempotency_key="w2")
    assert bank.balance(me, b).balance == Money.of("300000", "TWD")


def test_operators_get_operator_policies_never_a_step_up(
    engine: Engine, clock: ManualClock, settings: Settings
) -> None:
    from finbridge.risk.rules import Band, RuleSetSpec, RuleSpec

    maker, _ids, bank, _cid, a, b = _world(engine, clock, settings)
    rules = RuleSetSpec(
        "stepup", (RuleSpec("big", "amount >= 5000", 70, "large transfer"),), (Band(60, "step_up"),)
    )
    maker.rule_sets.promote(ANALYST, maker.rule_sets.save_draft(ANALYST, rules).id)
    # Below the threshold an operator's transfer the engine wants stepped up waits for a second
    # operator instead (banking's operator policy); the engine's own outcome is kept.
    with pytest.raises(PendingApproval, match="second operator"):
        bank.transfer(TELLER, a, b, Money.of("6000", "TWD"), idempotency_key="o1")
    stored = maker.store.stored(_event_id(maker, "o1"))
    assert stored is not None and stored.outcome == "step_up"
    [waiting] = bank.approvals(TELLER, status="pending")
    assert any("instead of a step-up" in r for r in waiting.reasons)
    # The platform's own job, with nobody to ask: approved on its authority below the
    # threshold, declined at or above it.
    job = Principal.system("job")
    assert bank.transfer(job, a, b, Money.of("6000", "TWD"), idempotency_key="o2").amount
    with pytest.raises(PostingDeclined, match="cannot wait"):
        bank.transfer(job, a, b, Money.of("2000000", "TWD"), idempotency_key="o3")
    # At the threshold an operator's withdrawal waits too (test_dual_control.py).
    with pytest.raises(PendingApproval, match="dual control"):
        bank.withdraw(TELLER, a, Money.of("2000000", "TWD"), idempotency_key="o4")
    assert bank.balance(TELLER, b).balance == Money.of("6000", "TWD")


def _event_id(maker: DecisionMaker, key: str) -> str:
    import hashlib

    return "posting:" + hashlib.sha256(f"teller\x00{key}".encode()).hexdigest()[:40]


def test_the_24_hour_sum_is_kept_per_currency(
    engine: Engine, clock: ManualClock, settings: Settings
) -> None:
    """150,000 TWD and 40,000 CNY are not 190,000 of anything: each currency adds up against
    its own limit (200,000 TWD, 50,000 CNY)."""
    _maker, ids, bank, cid, a, b = _world(engine, clock, settings)
    c = bank.open_account(TELLER, cid, kind="current", currency_code="CNY").id
    d = bank.open_account(TELLER, cid, kind="savings", currency_code="CNY").id
    bank.deposit(TELLER, c, Money.of("100000", "CNY"), idempotency_key="seed-cny")
    me = ids.sessions.authenticate(ids.login.start(ZHANG.phone, PASSWORD).tokens.access_token)  # type: ignore[union-attr]
    bank.transfer(me, a, b, Money.of("150000", "TWD"), idempotency_key="t1")
    clock.advance(timedelta(seconds=1))
    bank.transfer(me, c, d, Money.of("40000", "CNY"), idempotency_key="c1")  # no step-up
    clock.advance(timedelta(seconds=1))
    with pytest.raises(StepUpRequired, match=r"totalling 200,000\.00 TWD"):
        bank.transfer(me, a, b, Money.of("60000", "TWD"), idempotency_key="t2")
    clock.advance(timedelta(seconds=1))
    with pytest.raises(StepUpRequired, match=r"totalling 50,000\.00 CNY"):
        bank.transfer(me, c, d, Money.of("10000", "CNY"), idempotency_key="c2")
    assert bank.balance(me, d).balance == Money.of("40000", "CNY")
