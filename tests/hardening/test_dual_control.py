"""Dual control: an operator's transfer above the threshold waits for a second, different
operator, who approves it (it posts once) or declines it; it expires; every step is audited.
Real identity (audit log), risk (asking for a step-up an operator cannot give) and ledger, on
both databases. The threshold rule itself: tests/banking/test_dual_control_rule.py."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.conftest import Api, issue_key, make_platform
from tests.risk.conftest import make_maker

from finbridge.banking import (
    ApprovalExpired,
    BankingService,
    GuardDecision,
    PostingDeclined,
    PostingIntent,
    Verdict,
)
from finbridge.core import ManualClock, Money, Principal, Role, Settings
from finbridge.core.errors import (
    BusinessRuleViolation,
    Conflict,
    PendingApproval,
    PermissionDenied,
)
from finbridge.identity.audit import AuditLog
from finbridge.risk.decisions import DecisionOptions
from finbridge.risk.posting import RiskGuard
from finbridge.risk.rules import Band, RuleSetSpec, RuleSpec
from finbridge.site import create_app

MAKER = Principal.operator("teller-a", [Role.TELLER])
CHECKER = Principal.operator("teller-b", [Role.TELLER])
THIRD = Principal.operator("teller-c", [Role.TELLER])
ANALYST = Principal.operator("ana", [Role.RISK_ANALYST])
BIG = Money.of("2500000", "TWD")  # at or above the default threshold, 2,000,000 TWD
SYSTEM = Principal.system("seed")


class _World:
    def __init__(self, engine: Engine, clock: ManualClock, settings: Settings) -> None:
        maker = make_maker(engine, clock, options=DecisionOptions(rules_refresh_s=0.0))
        # The engine wants every transfer of 5,000 or more stepped up: an operator cannot.
        rules = RuleSetSpec(
            "stepup",
            (RuleSpec("big", "amount >= 5000", 70, "large transfer"),),
            (Band(60, "step_up"),),
        )
        maker.rule_sets.promote(ANALYST, maker.rule_sets.save_draft(ANALYST, rules).id)
        self.audit = AuditLog.from_settings(engine, clock, settings)
        self.bank = BankingService(
            engine, clock, guard=RiskGuard(maker), audit=self.audit,
            approval_ttl=timedelta(hours=2),
        )  # fmt: skip
        system = Principal.system("seed")
        cid = self.bank.create_customer(system, kind="personal", display_name="Lin").id
        self.a = self.bank.open_account(MAKER, cid, kind="current", currency_code="TWD").id
        self.b = self.bank.open_account(MAKER, cid, kind="savings", currency_code="TWD").id
        # The platform funds it (a teller's deposit this large would itself need a checker).
        self.bank.deposit(SYSTEM, self.a, Money.of("3000000", "TWD"), idempotency_key="seed")

    def ask(self, key: str = "big-1") -> PendingApproval:
        with pytest.raises(PendingApproval) as caught:
            self.bank.transfer(MAKER, self.a, self.b, BIG, idempotency_key=key)
        return caught.value

    def balance(self, account: str) -> Money:
        return self.bank.balance(MAKER, account).balance


@pytest.fixture
def world(engine: Engine, clock: ManualClock, settings: Settings) -> _World:
    return _World(engine, clock, settings)


def test_a_second_operator_approves_and_it_posts_once(world: _World) -> None:
    pending = world.ask()
    approval_id = pending.extra["approval_id"]
    assert world.ask().extra["approval_id"] == approval_id  # a retry: the same request
    assert world.balance(world.b) == Money.of("0", "TWD")  # nothing moved yet
    with pytest.raises(PermissionDenied, match="cannot approve"):
        world.bank.approve(MAKER, approval_id)  # the maker, never
    with pytest.raises(PermissionDenied, match="transfers:approve"):
        world.bank.approve(ANALYST, approval_id)  # a role without the scope
    with pytest.raises(PermissionDenied):
        world.bank.approve(Principal.customer("someone"), approval_id)
    [queued] = world.bank.approvals(CHECKER, status="pending")
    assert queued.id == approval_id and queued.amount == BIG and queued.maker_id == "teller-a"

    posted = world.bank.approve(CHECKER, approval_id, note="checked with the branch")
    assert posted.amount == BIG
    assert world.bank.approve(THIRD, approval_id).entry_id == posted.entry_id  # idempotent
    replay = world.bank.transfer(MAKER, world.a, world.b, BIG, idempotency_key="big-1")
    assert replay.entry_id == posted.entry_id  # the maker's retry gets the posted result
    assert world.balance(world.b) == BIG
    assert world.balance(world.a) == Money.of("500000", "TWD")
    done = world.bank.approval(MAKER, approval_id)
    assert (done.status, done.decided_by, done.entry_id) == (
        "approved",
        "teller-b",
        posted.entry_id,
    )
    trail = [(e.action, e.actor) for e in world.audit.entries(subject=approval_id)]
    assert trail == [
        ("banking.approval.approved", "teller-b"),
        ("banking.approval.requested", "teller-a"),
    ]
    assert world.audit.verify().ok
    assert world.bank.verify_ledger(MAKER).ok


def test_a_declined_request_is_the_keys_answer(world: _World) -> None:
    approval_id = world.ask().extra["approval_id"]
    declined = world.bank.decline(CHECKER, approval_id, note="customer not reachable")
    assert declined.status == "declined"
    with pytest.raises(BusinessRuleViolation, match="declined by a second operator") as again:
        world.bank.transfer(MAKER, world.a, world.b, BIG, idempotency_key="big-1")
    assert again.value.code == PostingDeclined.code
    with pytest.raises(Conflict, match="declined"):
        world.bank.approve(THIRD, approval_id)
    assert world.balance(world.b) == Money.of("0", "TWD")
    [entry] = world.audit.entries(subject=approval_id, limit=1)
    assert (entry.action, entry.detail["note"]) == (
        "banking.approval.declined",
        "customer not reachable",
    )


def test_an_unapproved_request_expires(world: _World, clock: ManualClock) -> None:
    approval_id = world.ask().extra["approval_id"]
    clock.advance(timedelta(hours=2))
    assert world.bank.approval(CHECKER, approval_id).status == "expired"
    with pytest.raises(ApprovalExpired):
        world.bank.approve(CHECKER, approval_id)
    with pytest.raises(BusinessRuleViolation) as again:  # the maker's key keeps the expiry
        world.bank.transfer(MAKER, world.a, world.b, BIG, idempotency_key="big-1")
    assert again.value.code == ApprovalExpired.code
    assert [a.id for a in world.bank.approvals(CHECKER, status="expired")] == [approval_id]
    assert world.bank.approvals(CHECKER, status="pending") == []
    assert world.balance(world.b) == Money.of("0", "TWD")


def test_racing_approvers_post_exactly_once(world: _World) -> None:
    approval_id = world.ask().extra["approval_id"]
    entries: list[str] = []
    errors: list[BaseException] = []

    def approve(who: Principal) -> None:
        try:
            entries.append(world.bank.approve(who, approval_id).entry_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=approve, args=(p,)) for p in (CHECKER, THIRD) * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(entries)) == 1
    assert world.balance(world.b) == BIG
    assert world.bank.verify_ledger(MAKER).ok


def test_an_approval_the_ledger_refuses_fails_and_the_key_keeps_it(world: _World) -> None:
    approval_id = world.ask().extra["approval_id"]
    # The money leaves the account meanwhile (the platform's own job, below the threshold:
    # approved on its authority although the engine wanted a step-up).
    world.bank.transfer(SYSTEM, world.a, world.b, Money.of("1000000", "TWD"), idempotency_key="x")
    with pytest.raises(BusinessRuleViolation):  # a business refusal (insufficient funds)
        world.bank.approve(CHECKER, approval_id)
    assert world.bank.approval(CHECKER, approval_id).status == "failed"
    with pytest.raises(BusinessRuleViolation) as again:
        world.bank.transfer(MAKER, world.a, world.b, BIG, idempotency_key="big-1")
    assert again.value.code == "insufficient_funds"
    assert world.balance(world.b) == Money.of("1000000", "TWD")


class _DualControlAbove:
    """A posting guard whose operator policy asks for a second operator at 1,000 or more."""

    def check(self, intent: PostingIntent) -> GuardDecision:
        if intent.amount >= Money.of("1000", intent.amount.code):
            return GuardDecision(Verdict.DUAL_CONTROL, ("needs a second operator",), "t/m/d1")
        return GuardDecision.approve("t")

    def settle(self, *args: object, **kwargs: object) -> None:
        return None


def test_the_api_and_the_console_queue(
    settings: Settings, engine: Engine, clock: ManualClock
) -> None:
    platform = make_platform(settings, engine, clock)
    platform.use_posting_guard(_DualControlAbove())
    app = create_app(platform=platform)
    maker = Api(
        TestClient(app), {"Authorization": f"Bearer {issue_key(platform, [Role.TELLER], 'm')}"}
    )
    checker_key = issue_key(platform, [Role.TELLER], "c")
    checker = Api(TestClient(app), {"Authorization": f"Bearer {checker_key}"})
    cid = maker.customer()
    a, b = maker.account(cid, "TWD"), maker.account(cid, "TWD", kind="savings")
    maker.deposit(a, "5000", "TWD")
    body = {"from_account_id": a, "to_account_id": b, "amount": "1500", "currency": "TWD"}
    asked = maker.post("/v1/transfers", json=body, headers={"Idempotency-Key": "k1"})
    assert asked.status_code == 202, asked.text
    approval_id = asked.json()["id"]
    assert asked.json()["status"] == "pending"
    again = maker.post("/v1/transfers", json=body, headers={"Idempotency-Key": "k1"})
    assert (again.status_code, again.json()["id"]) == (202, approval_id)
    own = maker.post(f"/v1/approvals/{approval_id}/approve", json={})
    assert own.status_code == 403 and own.json()["field"] == "approval_id"
    queue = checker.get("/v1/approvals", params={"status": "pending"})
    assert [q["id"] for q in queue.json()] == [approval_id]

    # The console's queue page and its approve button (an HTMX form: the CSRF rule applies).
    console = TestClient(app)
    signed_in = console.post(
        "/console/login", data={"api_key": checker_key}, headers={"HX-Request": "true"}
    )
    assert signed_in.status_code in (200, 204, 303), signed_in.text
    page = console.get("/console/approvals")
    assert page.status_code == 200 and approval_id in page.text
    forged = console.post(f"/console/approvals/{approval_id}/approve", data={"note": "x"})
    assert forged.status_code == 403  # no HX-Request: a cross-site form cannot approve
    done = console.post(
        f"/console/approvals/{approval_id}/approve",
        data={"note": "ok"},
        headers={"HX-Request": "true"},
    )
    assert done.status_code == 200 and "approved" in done.text
    assert maker.balance(b) == "1500.00"
    replay = maker.post("/v1/transfers", json=body, headers={"Idempotency-Key": "k1"})
    assert replay.status_code == 201 and replay.json()["replayed"] is True
    assert checker.post(f"/v1/approvals/{approval_id}/decline", json={}).status_code == 409
    trail = platform.identity.audit.entries(subject=approval_id)
    assert [e.action for e in trail] == ["banking.approval.approved", "banking.approval.requested"]
    # A teller's deposit at the default threshold (2,000,000 TWD) waits too: 202 with the request.
    deposit = maker.post(
        f"/v1/accounts/{a}/deposits",
        json={"amount": "2000000", "currency": "TWD"},
        headers={"Idempotency-Key": "d-big"},
    )
    assert deposit.status_code == 202, deposit.text
    assert (deposit.json()["kind"], deposit.json()["status"]) == ("deposit", "pending")
    assert maker.balance(a) == "3500.00"
