"""The guarded posting order: idempotency first, then the guard, then the posting, then settle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from finbridge.banking import (
    BankingService,
    BatchPostingGuard,
    CardTransaction,
    GuardDecision,
    PostingDeclined,
    PostingGuard,
    PostingIntent,
    Verdict,
)
from finbridge.core import InsufficientFunds, ManualClock, Money, Principal

CNY = "CNY"


@dataclass
class Settled:
    key: str
    posted: bool
    reason: str | None


@dataclass
class OnceGuard:
    """Approves the first decision of each key and would refuse any second one."""

    seen: list[str] = field(default_factory=list)
    settled: list[Settled] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)  # keys refused outright

    def check(self, intent: PostingIntent) -> GuardDecision:
        key = intent.idempotency_key
        if key in self.refuse:
            return GuardDecision(Verdict.DECLINE, ("on the block list",), "test")
        if key in self.seen:
            return GuardDecision(Verdict.DECLINE, ("asked twice",), "test")
        self.seen.append(key)
        return GuardDecision.approve("test")

    def settle(
        self, intent: PostingIntent, decision: GuardDecision, *, posted: bool, reason: str | None
    ) -> None:
        self.settled.append(Settled(intent.idempotency_key, posted, reason))


@dataclass
class BatchGuard(OnceGuard):
    batches: list[int] = field(default_factory=list)

    def check_many(self, intents: Sequence[PostingIntent]) -> list[GuardDecision]:
        self.batches.append(len(intents))
        return [self.check(i) for i in intents]


def _service(engine: Engine, clock: ManualClock, guard: PostingGuard) -> BankingService:
    return BankingService(engine, clock, guard=guard)


def _funded(svc: BankingService, amount: str = "100") -> tuple[str, str, Principal]:
    system = Principal.system("test")
    cid = svc.create_customer(system, kind="personal", display_name="G").id
    a = svc.open_account(system, cid, kind="current", currency_code=CNY).id
    b = svc.open_account(system, cid, kind="savings", currency_code=CNY).id
    svc.deposit(system, a, Money.of(amount, CNY), idempotency_key=f"fund-{a}")
    return a, b, Principal.customer(cid)


def test_a_retry_returns_the_first_result_before_any_guard_runs(
    engine: Engine, clock: ManualClock
) -> None:
    guard = OnceGuard()
    svc = _service(engine, clock, guard)
    a, b, me = _funded(svc, "50")
    first = svc.transfer(me, a, b, Money.of("50", CNY), idempotency_key="t1")
    # The guard would decline a second decision, and the account is empty now: the retry
    # must still return the first result.
    again = svc.transfer(me, a, b, Money.of("50", CNY), idempotency_key="t1")
    assert again.replayed and again.entry_id == first.entry_id
    assert guard.seen == ["t1"]
    assert guard.settled == [Settled("t1", True, None)]


def test_a_retried_hold_is_not_decided_twice(engine: Engine, clock: ManualClock) -> None:
    guard = OnceGuard()
    svc = _service(engine, clock, guard)
    a, _, me = _funded(svc, "10")
    hold = svc.place_hold(me, a, Money.of("10", CNY), idempotency_key="h1")
    again = svc.place_hold(me, a, Money.of("10", CNY), idempotency_key="h1")
    assert again.replayed and again.id == hold.id
    assert guard.seen == ["h1"]
    guard.refuse.add("h2")
    with pytest.raises(PostingDeclined, match="block list"):
        svc.place_hold(me, a, Money.of("1", CNY), idempotency_key="h2")


def test_an_approved_posting_that_fails_settles_with_the_reason(
    engine: Engine, clock: ManualClock
) -> None:
    guard = OnceGuard()
    svc = _service(engine, clock, guard)
    a, b, me = _funded(svc, "10")
    with pytest.raises(InsufficientFunds):
        svc.transfer(me, a, b, Money.of("11", CNY), idempotency_key="big")
    (settled,) = guard.settled
    assert (settled.key, settled.posted) == ("big", False)
    assert settled.reason is not None and settled.reason.startswith("insufficient_funds")


def test_a_refused_posting_is_not_settled(engine: Engine, clock: ManualClock) -> None:
    guard = OnceGuard(refuse={"no"})
    svc = _service(engine, clock, guard)
    a, b, me = _funded(svc, "10")
    with pytest.raises(PostingDeclined):
        svc.transfer(me, a, b, Money.of("1", CNY), idempotency_key="no")
    assert guard.settled == []
    assert svc.balance(me, a).balance == Money.of("10", CNY)


def test_a_failing_settle_never_changes_the_posting(sqlite_engine: Engine, clock: ManualClock):
    class Broken(OnceGuard):
        def settle(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("risk store down")

    svc = _service(sqlite_engine, clock, Broken())
    a, b, me = _funded(svc, "10")
    assert not svc.transfer(me, a, b, Money.of("1", CNY), idempotency_key="k").replayed


def test_the_card_batch_is_guarded_in_batches(engine: Engine, clock: ManualClock) -> None:
    guard = BatchGuard(refuse={"c-3"})
    assert isinstance(guard, BatchPostingGuard)
    svc = _service(engine, clock, guard)
    a, _, _ = _funded(svc, "100")
    system = Principal.system("cards")
    t0 = clock.now() - timedelta(days=1)
    items = [
        CardTransaction(a, Money.of("60", CNY), "c-1", t0, "T1"),
        CardTransaction(a, Money.of("50", CNY), "c-2", t0, "T2"),  # only 40 left
        CardTransaction(a, Money.of("1", CNY), "c-3", t0, "T3"),  # refused by the guard
        CardTransaction(a, Money.of("30", CNY), "c-4", t0, "T4"),
    ]
    res = svc.post_card_transactions(system, items)
    assert (res.posted, res.declined, res.duplicates) == (2, 2, 0)
    assert sorted(res.declined_keys) == ["c-2", "c-3"]
    assert guard.batches == [4]
    outcome = {s.key: (s.posted, (s.reason or "").split(":")[0]) for s in guard.settled}
    assert outcome == {
        "c-1": (True, ""),
        "c-2": (False, "insufficient_funds"),
        "c-4": (True, ""),
    }
    # A replay of the batch decides nothing again.
    again = svc.post_card_transactions(system, items[:1] + items[3:])
    assert (again.posted, again.duplicates) == (0, 2) and guard.batches == [4]
    assert svc.balance(system, a).balance == Money.of("10", CNY)
    assert svc.verify_ledger(system).ok
