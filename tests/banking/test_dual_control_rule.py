"""Banking's operator policy (issue 11): an operator's transfer, withdrawal or deposit at or
above the configured threshold always waits for a second operator, whatever the posting guard
says (only its decline is stronger); below it, a guard asking for a step-up gets a second
operator instead; pending requests past their expiry are closed by the sweep the close of
business runs, audited, and can no longer be approved. Real ledger and audit log, both
databases (the environment's settings: SQLite only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError as SettingsError
from sqlalchemy import Engine

from finbridge.banking import (
    ApprovalExpired,
    BankingService,
    GuardDecision,
    PostingDeclined,
    PostingIntent,
    Verdict,
)
from finbridge.core import ManualClock, Money, Principal, Role, Settings
from finbridge.core.errors import BusinessRuleViolation, PendingApproval, PermissionDenied
from finbridge.core.settings import BankingSettings
from finbridge.identity.audit import AuditLog

MAKER = Principal.operator("teller-a", [Role.TELLER])
CHECKER = Principal.operator("teller-b", [Role.TELLER])
SYSTEM = Principal.system("job")
THRESHOLDS = BankingSettings(dual_control={"CNY": Decimal("10000")}).dual_control_thresholds()
AT = Money.of("10000", "CNY")
BELOW = Money.of("9999.99", "CNY")


@dataclass
class _Guard:
    """A posting guard with a fixed answer that records what it was told afterwards."""

    verdict: Verdict
    settled: list[bool] = field(default_factory=list)

    def check(self, intent: PostingIntent) -> GuardDecision:
        return GuardDecision(self.verdict, (f"guard says {self.verdict.value}",), "g/m/d1")

    def settle(
        self, intent: PostingIntent, decision: GuardDecision, *, posted: bool, reason: str | None
    ) -> None:
        self.settled.append(posted)


class _World:
    def __init__(
        self, engine: Engine, clock: ManualClock, settings: Settings, guard: _Guard | None
    ) -> None:
        self.audit = AuditLog.from_settings(engine, clock, settings)
        self.bank = BankingService(
            engine, clock, guard=guard, audit=self.audit, dual_control=THRESHOLDS,
            approval_ttl=timedelta(hours=1),
        )  # fmt: skip
        cid = self.bank.create_customer(SYSTEM, kind="personal", display_name="Wu").id
        self.customer = Principal.customer(cid)
        self.a = self.bank.open_account(SYSTEM, cid, kind="current", currency_code="CNY").id
        self.b = self.bank.open_account(SYSTEM, cid, kind="savings", currency_code="CNY").id
        self.bank.deposit(SYSTEM, self.a, Money.of("100000", "CNY"), idempotency_key="fund")

    def pending(self, call: object, *args: object, **kwargs: object) -> str:
        with pytest.raises(PendingApproval) as caught:
            call(*args, **kwargs)  # type: ignore[operator]
        return str(caught.value.extra["approval_id"])

    def balance(self, account: str) -> Money:
        return self.bank.balance(SYSTEM, account).balance


def test_an_operators_movement_at_the_threshold_always_waits(
    engine: Engine, clock: ManualClock, settings: Settings
) -> None:
    w = _World(engine, clock, settings, guard=None)  # no risk engine wired at all
    bank = w.bank
    transfer = w.pending(bank.transfer, MAKER, w.a, w.b, AT, idempotency_key="t1")
    deposit = w.pending(bank.deposit, MAKER, w.b, AT, idempotency_key="d1")
    withdrawal = w.pending(
        bank.withdraw, MAKER, w.a, Money.of("20000", "CNY"), idempotency_key="w1"
    )
    # Below it, the platform's own jobs and customers: no second operator.
    bank.transfer(MAKER, w.a, w.b, BELOW, idempotency_key="t2")
    bank.transfer(SYSTEM, w.a, w.b, AT, idempotency_key="t3")
    bank.transfer(w.customer, w.a, w.b, AT, idempotency_key="t4")
    assert w.balance(w.b) == BELOW + AT + AT
    queued = {a.id: a.kind for a in bank.approvals(CHECKER, status="pending")}
    assert queued == {transfer: "transfer", deposit: "deposit", withdrawal: "withdrawal"}

    with pytest.raises(PermissionDenied, match="cannot approve"):
        bank.approve(MAKER, deposit)  # maker-checker: never one's own
    bank.approve(CHECKER, deposit)
    bank.approve(CHECKER, transfer)
    assert bank.approve(CHECKER, transfer).amount == AT  # a repeat posts nothing more
    bank.decline(CHECKER, withdrawal, note="no ID shown")
    # The approved deposit and transfer, once each, beside the three that did not wait.
    assert w.balance(w.b) == Money.of("49999.99", "CNY")
    assert w.balance(w.a) == Money.of("60000.01", "CNY")
    # The maker's retry of each key gets what became of it.
    assert bank.deposit(MAKER, w.b, AT, idempotency_key="d1").amount == AT
    with pytest.raises(BusinessRuleViolation, match="no ID shown") as refused:
        bank.withdraw(MAKER, w.a, Money.of("20000", "CNY"), idempotency_key="w1")
    assert refused.value.code == PostingDeclined.code
    with pytest.raises(Exception, match="not found"):  # nothing may wait for a missing account
        bank.deposit(MAKER, "0" * 26, AT, idempotency_key="d2")
    actions = sorted(e.action for e in w.audit.entries(limit=20))
    assert actions.count("banking.approval.requested") == 3
    assert actions.count("banking.approval.approved") == 2
    assert w.audit.verify().ok and bank.verify_ledger(SYSTEM).ok


def test_whatever_the_guard_says_only_its_decline_is_stronger(
    engine: Engine, clock: ManualClock, settings: Settings
) -> None:
    approving = _Guard(Verdict.APPROVE)
    w = _World(engine, clock, settings, guard=approving)
    approval = w.pending(w.bank.transfer, MAKER, w.a, w.b, AT, idempotency_key="a1")
    assert approving.settled == []  # nothing posted yet
    w.bank.approve(CHECKER, approval)
    assert approving.settled == [True]  # the guard hears the outcome once, after the approval

    # The guard asks for a step-up below the threshold: an operator cannot give one, so a
    # second operator reviews it; what cannot wait (a hold, the platform's job) is approved on
    # the actor's authority below the threshold and declined at or above it.
    w.bank.guard = _Guard(Verdict.STEP_UP)
    review = w.pending(w.bank.transfer, MAKER, w.a, w.b, Money.of("5", "CNY"), idempotency_key="s1")
    assert any("instead of a step-up" in r for r in w.bank.approval(CHECKER, review).reasons)
    assert w.bank.place_hold(MAKER, w.a, BELOW, idempotency_key="h1").amount == BELOW
    with pytest.raises(PostingDeclined, match="cannot wait"):
        w.bank.place_hold(MAKER, w.a, AT, idempotency_key="h2")
    assert w.bank.transfer(SYSTEM, w.a, w.b, BELOW, idempotency_key="s2").amount == BELOW

    # A decline stands, at any amount: nothing waits for a movement the guard refused.
    w.bank.guard = _Guard(Verdict.DECLINE)
    with pytest.raises(PostingDeclined, match="guard says decline"):
        w.bank.transfer(MAKER, w.a, w.b, AT, idempotency_key="x1")
    assert [a.id for a in w.bank.approvals(CHECKER, status="pending")] == [review]
    assert w.balance(w.b) == AT + BELOW


def test_the_sweep_expires_what_nobody_approved(
    engine: Engine, clock: ManualClock, settings: Settings
) -> None:
    w = _World(engine, clock, settings, guard=None)
    bank = w.bank
    late = w.pending(bank.transfer, MAKER, w.a, w.b, AT, idempotency_key="e1")
    done = w.pending(bank.deposit, MAKER, w.a, AT, idempotency_key="e2")
    bank.approve(CHECKER, done)
    clock.advance(timedelta(minutes=59))
    sweeper = Principal.system("close-of-business")
    assert bank.expire_approvals(sweeper) == 0  # not yet
    with pytest.raises(PermissionDenied):
        bank.expire_approvals(CHECKER)  # the platform's job, not an operator's
    clock.advance(timedelta(minutes=1))
    assert bank.expire_approvals(sweeper) == 1
    assert bank.expire_approvals(sweeper) == 0  # idempotent
    row = bank.approval(CHECKER, late)
    assert (row.status, row.decided_by) == ("expired", "close-of-business")
    [entry] = w.audit.entries(subject=late, limit=1)
    assert (entry.action, entry.actor) == ("banking.approval.expired", "close-of-business")
    with pytest.raises(ApprovalExpired, match=rf"approval {late} expired at .*ask again"):
        bank.approve(CHECKER, late)
    with pytest.raises(BusinessRuleViolation) as again:  # the maker's key keeps the expiry
        bank.transfer(MAKER, w.a, w.b, AT, idempotency_key="e1")
    assert again.value.code == ApprovalExpired.code
    assert w.balance(w.b) == Money.zero("CNY") and bank.verify_ledger(SYSTEM).ok


def test_thresholds_come_from_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINBRIDGE_BANKING__DUAL_CONTROL", '{"TWD": "150000", "USD": "9000.50"}')
    thresholds = Settings().banking.dual_control_thresholds()
    assert thresholds == {"TWD": Money.of("150000", "TWD"), "USD": Money.of("9000.50", "USD")}
    assert BankingSettings().dual_control_thresholds()["TWD"] == Money.of("2000000", "TWD")
    for bad, named in (('{"XYZ": "5"}', "dual_control.XYZ"), ('{"TWD": "0"}', "dual_control.TWD"),
                       ('{"TWD": "1.001"}', "dual_control.TWD")):  # fmt: skip
        monkeypatch.setenv("FINBRIDGE_BANKING__DUAL_CONTROL", bad)
        with pytest.raises(SettingsError, match=named):
            Settings()
