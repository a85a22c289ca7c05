"""A key's first definitive answer (a success or a business refusal) is what every retry gets;
only transient failures (a step-up, an outage) may be retried to another outcome."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from sqlalchemy import Engine

from finbridge.banking import (
    BankingService,
    GuardDecision,
    PostingDeclined,
    PostingIntent,
    Verdict,
)
from finbridge.core import (
    BusinessRuleViolation,
    IdempotencyConflict,
    InsufficientFunds,
    ManualClock,
    Money,
    Principal,
    Role,
    StepUpRequired,
)
from finbridge.platform import Platform

from .conftest import admin_of


class ScriptedGuard:
    """Answers the verdicts it is given, in order, then approves."""

    def __init__(self, *verdicts: Verdict) -> None:
        self.verdicts = deque(verdicts)

    def check(self, intent: PostingIntent) -> GuardDecision:
        verdict = self.verdicts.popleft() if self.verdicts else Verdict.APPROVE
        return GuardDecision(verdict, ("scripted",), "test")

    def settle(self, *args: Any, **kwargs: Any) -> None:
        return None


def _accounts(svc: BankingService, system: Principal, balance: str) -> tuple[str, str]:
    ids = []
    for name in ("A", "B"):
        cust = svc.create_customer(system, kind="personal", display_name=name).id
        ids.append(svc.open_account(system, cust, kind="current", currency_code="CNY").id)
    if Money.of(balance, "CNY").is_positive():
        svc.deposit(system, ids[0], Money.of(balance, "CNY"), idempotency_key=f"fund-{ids[0]}")
    return ids[0], ids[1]


def test_insufficient_funds_is_the_answer_for_every_retry(
    svc: BankingService, system: Principal
) -> None:
    src, dst = _accounts(svc, system, "10")
    amount = Money.of("50", "CNY")
    with pytest.raises(InsufficientFunds) as first:
        svc.transfer(system, src, dst, amount, idempotency_key="k1")
    svc.deposit(system, src, Money.of("100", "CNY"), idempotency_key="top-up")
    with pytest.raises(BusinessRuleViolation) as retry:
        svc.transfer(system, src, dst, amount, idempotency_key="k1")
    assert (retry.value.code, retry.value.detail, retry.value.field) == (
        first.value.code,
        first.value.detail,
        first.value.field,
    )
    assert svc.balance(system, src).balance == Money.of("110", "CNY")
    with pytest.raises(IdempotencyConflict):  # the key is spent on that request
        svc.transfer(system, src, dst, Money.of("5", "CNY"), idempotency_key="k1")
    svc.transfer(system, src, dst, amount, idempotency_key="k2")  # a new key may succeed
    assert svc.balance(system, dst).balance == amount


def test_a_decline_is_kept_but_a_step_up_may_be_retried(
    engine: Engine, clock: ManualClock, system: Principal
) -> None:
    svc = BankingService(engine, clock, guard=ScriptedGuard(Verdict.DECLINE, Verdict.STEP_UP))
    src, dst = _accounts(svc, system, "100")
    amount = Money.of("10", "CNY")
    with pytest.raises(PostingDeclined):
        svc.transfer(system, src, dst, amount, idempotency_key="declined")
    with pytest.raises(BusinessRuleViolation) as again:  # the guard would approve now
        svc.transfer(system, src, dst, amount, idempotency_key="declined")
    assert again.value.code == "posting_declined"
    # A step-up is a customer's to give (staff get operator policies instead, issue 11).
    owner = Principal.customer(svc.get_account(system, src).customer_id)
    with pytest.raises(StepUpRequired):
        svc.transfer(owner, src, dst, amount, idempotency_key="stepped")
    assert svc.transfer(owner, src, dst, amount, idempotency_key="stepped").amount == amount
    assert svc.balance(system, dst).balance == amount


def test_a_refused_hold_stays_refused(svc: BankingService, system: Principal) -> None:
    src, _ = _accounts(svc, system, "1")
    with pytest.raises(InsufficientFunds):
        svc.place_hold(system, src, Money.of("5", "CNY"), idempotency_key="h1")
    svc.deposit(system, src, Money.of("10", "CNY"), idempotency_key="top-up")
    with pytest.raises(BusinessRuleViolation, match="available"):
        svc.place_hold(system, src, Money.of("5", "CNY"), idempotency_key="h1")
    assert svc.balance(system, src).held == Money.zero("CNY")


def test_over_http_the_retry_gets_the_same_problem_document(both_platform: Platform) -> None:
    admin = admin_of(both_platform)
    teller = both_platform.api_keys.issue("teller", [Role.TELLER]).plaintext
    src, dst = admin.account(admin.customer("A")), admin.account(admin.customer("B"))
    body = {"from_account_id": src, "to_account_id": dst, "amount": "5.00", "currency": "CNY"}
    headers = {"Idempotency-Key": "same", "Authorization": f"Bearer {teller}"}
    first = admin.client.post("/v1/transfers", json=body, headers=headers)
    assert first.status_code == 422, first.text
    admin.deposit(src, "100")
    retry = admin.client.post("/v1/transfers", json=body, headers=headers)
    assert retry.status_code == 422
    for member in ("code", "detail", "field", "title", "status"):
        assert retry.json()[member] == first.json()[member]
    assert retry.json()["replayed"] is True
    assert admin.balance(src) == "100.00"
