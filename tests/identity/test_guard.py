"""Identity's posting guard on the real banking service: large transfers and risk-demanded
step-ups need a fresh second factor held by the session, not claimed by the client."""

from __future__ import annotations

from datetime import timedelta

import pytest

from finbridge.banking import BankingService
from finbridge.banking.guard import GuardDecision, PostingIntent, Verdict
from finbridge.core import ManualClock, Money, Principal, Role, Settings
from finbridge.core.errors import PendingApproval, StepUpRequired
from finbridge.identity.guard import StepUpGuard
from finbridge.identity.services import IdentityServices

from .conftest import PASSWORD, ZHANG, enrol_totp, totp_code

TELLER = Principal.operator("teller", [Role.TELLER])


class RiskSaysStepUp:
    """A stand-in risk guard (a real PostingGuard implementation) that always asks for step-up,
    and keeps what banking tells it about each posting's outcome."""

    def __init__(self) -> None:
        self.settled: list[tuple[str, GuardDecision, bool, str | None]] = []

    def check(self, intent: PostingIntent) -> GuardDecision:
        return GuardDecision(Verdict.STEP_UP, ("new payee, unusual hour",), "rules-v7/m1/d-42")

    def settle(
        self, intent: PostingIntent, decision: GuardDecision, *, posted: bool, reason: str | None
    ) -> None:
        self.settled.append((intent.idempotency_key, decision, posted, reason))


class BankCustomers:
    """Identity's customer-factory port over the real banking service (as the platform wires)."""

    def __init__(self) -> None:
        self.bank: BankingService | None = None

    def create(self, display_name: str) -> str:
        assert self.bank is not None
        actor = Principal.system("identity")
        return self.bank.create_customer(actor, kind="personal", display_name=display_name).id

    def discard(self, customer_id: str) -> None:
        raise AssertionError("registration did not fail")


def _setup(engine, clock: ManualClock, settings: Settings, inner=None):  # type: ignore[no-untyped-def]
    customers = BankCustomers()
    ids = IdentityServices.build(engine, clock, settings, customers=customers)
    bank = BankingService(engine, clock, guard=StepUpGuard(ids.step_up, inner))
    customers.bank = bank
    cid = ids.persons.register(ZHANG, password=PASSWORD).customer_id
    secret, _ = enrol_totp(ids, clock, cid)
    a = bank.open_account(TELLER, cid, kind="current", currency_code="CNY").id
    b = bank.open_account(TELLER, cid, kind="savings", currency_code="CNY").id
    bank.deposit(TELLER, a, Money.of("100000", "CNY"), idempotency_key="seed")
    tokens = ids.login.start(ZHANG.phone, PASSWORD).tokens
    assert tokens is None  # TOTP enrolled: password alone gives no session
    step = ids.login.start(ZHANG.phone, PASSWORD)
    assert step.challenge is not None
    clock.advance(timedelta(seconds=30))
    tokens = ids.login.complete(step.challenge, "totp", totp_code(secret, clock))
    me = ids.sessions.authenticate(tokens.access_token)
    return ids, bank, me, secret, a, b


def test_large_transfer_needs_fresh_factor(
    sqlite_engine,
    clock: ManualClock,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    ids, bank, me, secret, a, b = _setup(sqlite_engine, clock, settings)
    bank.transfer(me, a, b, Money.of("60000", "CNY"), idempotency_key="k1")  # login TOTP fresh
    clock.advance(timedelta(minutes=10))
    bank.transfer(me, a, b, Money.of("100", "CNY"), idempotency_key="k2")  # small: no step-up
    with pytest.raises(StepUpRequired, match=r"50,000\.00 CNY or more"):
        bank.transfer(me, b, a, Money.of("50000", "CNY"), idempotency_key="k3")
    ids.step_up.with_totp(me, totp_code(secret, clock))
    bank.transfer(me, b, a, Money.of("50000", "CNY"), idempotency_key="k3")
    # the client cannot claim a step-up in the metadata
    clock.advance(timedelta(minutes=10))
    with pytest.raises(StepUpRequired):
        bank.transfer(
            me, a, b, Money.of("50000", "CNY"), idempotency_key="k4", metadata={"step_up": "passed"}
        )


def test_risk_demanded_step_up_is_satisfied_by_identity(
    sqlite_engine,
    clock: ManualClock,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    risk = RiskSaysStepUp()
    ids, bank, me, secret, a, b = _setup(sqlite_engine, clock, settings, risk)
    clock.advance(timedelta(minutes=10))
    with pytest.raises(StepUpRequired, match="new payee"):
        bank.transfer(me, a, b, Money.of("10", "CNY"), idempotency_key="r1")
    ids.step_up.with_totp(me, totp_code(secret, clock))
    result = bank.transfer(me, a, b, Money.of("10", "CNY"), idempotency_key="r1")
    assert result is not None
    # risk hears the outcome with the decision it made itself (identity's approval unwrapped)
    own = GuardDecision(Verdict.STEP_UP, ("new payee, unusual hour",), "rules-v7/m1/d-42")
    assert risk.settled == [("r1", own, True, None)]
    # operators are not subject to customer step-up: the inner guard's step-up goes to a second
    # operator instead (banking's operator policy), never a factor an operator cannot give
    with pytest.raises(PendingApproval):
        bank.transfer(TELLER, a, b, Money.of("10", "CNY"), idempotency_key="r2")


def test_settle_passes_the_inner_decision_through(
    sqlite_engine,
    clock: ManualClock,
    settings: Settings,  # type: ignore[no-untyped-def]
) -> None:
    risk = RiskSaysStepUp()
    guard = StepUpGuard(IdentityServices.build(sqlite_engine, clock, settings).step_up, risk)
    intent = PostingIntent(
        actor=TELLER,
        kind="transfer",
        from_account_id="a",
        to_account_id="b",
        from_customer_id=None,
        to_customer_id=None,
        amount=Money.of("10", "CNY"),
        occurred_at=clock.now(),
        idempotency_key="s1",
    )
    plain = GuardDecision(Verdict.APPROVE, ("ok",), "rules-v7/m1/d-7")
    guard.settle(intent, plain, posted=False, reason="insufficient funds")
    confirmed = GuardDecision(
        Verdict.APPROVE, ("why", "second factor confirmed"), "rules-v7/m1/d-8+identity-step-up-v1"
    )
    guard.settle(intent, confirmed, posted=True, reason=None)
    own_refusal = GuardDecision(Verdict.STEP_UP, ("large",), "identity-step-up-v1")
    guard.settle(intent, own_refusal, posted=False, reason="step-up")
    assert risk.settled == [
        ("s1", plain, False, "insufficient funds"),
        ("s1", GuardDecision(Verdict.STEP_UP, ("why",), "rules-v7/m1/d-8"), True, None),
    ]
