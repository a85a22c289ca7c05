"""Multi-leg journal entries: balanced per currency, the one rule per leg, idempotency before
the guard, the transaction.posted event, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine, text
from tests.banking.conftest import OpenFn

from finbridge.banking import (
    BankingService,
    GuardDecision,
    InternalAccount,
    JournalLeg,
    PostingDeclined,
    PostingIntent,
    Verdict,
)
from finbridge.core import (
    AccountNotActive,
    BusinessRuleViolation,
    IdempotencyConflict,
    InsufficientFunds,
    ManualClock,
    Money,
    NotFound,
    PermissionDenied,
    Principal,
    ValidationError,
)
from finbridge.core.errors import StepUpRequired

FX = InternalAccount.FX_POSITION


def _fx_legs(cny_acc: str, usd_acc: str, cny: str, usd: str) -> list[JournalLeg]:
    return [
        JournalLeg.take(cny_acc, Money.of(cny, "CNY"), field="from_account_id"),
        JournalLeg.bank(FX, Money.of(cny, "CNY"), debit=False),
        JournalLeg.bank(FX, Money.of(usd, "USD"), debit=True),
        JournalLeg.give(usd_acc, Money.of(usd, "USD"), field="to_account_id"),
    ]


def _sums(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT currency, SUM(balance_minor) FROM banking_accounts GROUP BY currency")
        )
        return {r[0]: int(r[1]) for r in rows}


def test_an_fx_conversion_is_one_entry_in_two_currencies(
    svc: BankingService, system: Principal, open_account: OpenFn, engine: Engine
) -> None:
    cny = open_account("1000.00", "CNY")
    usd = open_account("0", "USD", customer_id=cny.customer_id)
    customer = Principal.customer(cny.customer_id or "")
    result = svc.post_journal(
        system, _fx_legs(cny.id, usd.id, "720.00", "100.00"), idempotency_key="fx-1",
        description="CNY->USD", requested_by=customer,
    )  # fmt: skip
    assert svc.balance(system, cny.id).balance == Money.of("280.00", "CNY")
    assert svc.balance(system, usd.id).balance == Money.of("100.00", "USD")
    fx_cny = svc.internal_account_id(FX, "CNY")
    fx_usd = svc.internal_account_id(FX, "USD")
    assert svc.balance(system, fx_cny).balance == Money.of("720.00", "CNY")
    assert svc.balance(system, fx_usd).balance == Money.of("-100.00", "USD")
    assert len(result.legs) == 4
    with engine.connect() as conn:
        n_postings = conn.execute(
            text("SELECT count(*) FROM banking_postings WHERE entry_id = :e"),
            {"e": result.entry_id},
        ).scalar()
        event = conn.execute(
            text("SELECT payload FROM lake_outbox WHERE event_type = 'transaction.posted'"
                 " ORDER BY seq DESC LIMIT 1")
        ).scalar()  # fmt: skip
    payload = json.loads(event) if isinstance(event, str) else event
    assert n_postings == 4
    assert payload["kind"] == "journal" and payload["from_account_id"] == cny.id
    assert payload["amount"] == "720.00" and payload["currency"] == "CNY"
    assert payload["from_customer_id"] == cny.customer_id
    assert _sums(engine) == {"CNY": 0, "USD": 0}
    assert svc.verify_ledger(system).ok


def test_a_retry_returns_the_first_result_and_a_different_request_is_refused(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    cny = open_account("1000.00", "CNY")
    usd = open_account("0", "USD", customer_id=cny.customer_id)
    customer = Principal.customer(cny.customer_id or "")
    legs = _fx_legs(cny.id, usd.id, "72.00", "10.00")
    first = svc.post_journal(system, legs, idempotency_key="k", requested_by=customer)
    again = svc.post_journal(system, legs, idempotency_key="k", requested_by=customer)
    assert again.replayed and again.entry_id == first.entry_id and again.legs == first.legs
    assert svc.balance(system, usd.id).balance == Money.of("10.00", "USD")
    with pytest.raises(IdempotencyConflict, match="different request"):
        svc.post_journal(
            system, _fx_legs(cny.id, usd.id, "73.00", "10.00"), idempotency_key="k",
            requested_by=customer,
        )  # fmt: skip


def test_a_refused_debit_leg_posts_nothing(
    svc: BankingService, system: Principal, open_account: OpenFn, engine: Engine
) -> None:
    cny = open_account("50.00", "CNY")
    usd = open_account("0", "USD", customer_id=cny.customer_id)
    before = _sums(engine)
    with pytest.raises(InsufficientFunds) as err:
        svc.post_journal(system, _fx_legs(cny.id, usd.id, "72.00", "10.00"), idempotency_key="x")
    assert err.value.field == "amount"
    assert svc.balance(system, usd.id).balance == Money.of("0", "USD")
    assert svc.balance(system, cny.id).balance == Money.of("50.00", "CNY")
    assert _sums(engine) == before
    svc.freeze_account(system, cny.id, reason="test")
    with pytest.raises(AccountNotActive):
        svc.post_journal(system, _fx_legs(cny.id, usd.id, "1.00", "0.14"), idempotency_key="y")


def test_three_legs_in_one_currency_a_payment_net_of_fee(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    payer = open_account("100.00")
    merchant = open_account("0")
    customer = Principal.customer(payer.customer_id or "")
    svc.post_journal(
        system,
        [
            JournalLeg.take(payer.id, Money.of("100.00", "CNY")),
            JournalLeg.give(merchant.id, Money.of("99.40", "CNY")),
            JournalLeg.bank(InternalAccount.FEE_INCOME, Money.of("0.60", "CNY"), debit=False),
        ],
        idempotency_key="pay-1",
        requested_by=customer,
    )
    assert svc.balance(system, merchant.id).balance == Money.of("99.40", "CNY")
    fee = svc.internal_account_id(InternalAccount.FEE_INCOME, "CNY")
    assert svc.balance(system, fee).balance == Money.of("0.60", "CNY")


@pytest.mark.parametrize(
    ("legs", "field", "match"),
    [
        ("unbalanced", "legs", "differ in CNY"),
        ("one_leg", "legs", "2 to 16 legs"),
        ("same_account", "legs", "appears once"),
        ("zero", "amount", "greater than zero"),
    ],
)
def test_bad_legs_are_refused_naming_the_field(
    lite: BankingService, system: Principal, open_lite: OpenFn, legs: str, field: str, match: str
) -> None:
    a, b = open_lite("100"), open_lite("0")
    one = Money.of("1", "CNY")
    cases = {
        "unbalanced": [JournalLeg.take(a.id, one), JournalLeg.give(b.id, Money.of("2", "CNY"))],
        "one_leg": [JournalLeg.take(a.id, one)],
        "same_account": [JournalLeg.take(a.id, one), JournalLeg.give(a.id, one)],
        "zero": [
            JournalLeg(Money.of("0", "CNY"), True, account_id=a.id, field="amount"),
            JournalLeg.give(b.id, one),
        ],
    }
    with pytest.raises(ValidationError, match=match) as err:
        lite.post_journal(system, cases[legs], idempotency_key="bad")
    assert err.value.field == field


def test_only_the_platform_posts_to_the_banks_own_accounts(
    lite: BankingService, system: Principal, open_lite: OpenFn
) -> None:
    cny = open_lite("1000", "CNY")
    usd = open_lite("0", "USD", customer_id=cny.customer_id)
    customer = Principal.customer(cny.customer_id or "")
    teller = Principal.operator("t", [])
    legs = _fx_legs(cny.id, usd.id, "72.00", "10.00")
    with pytest.raises(PermissionDenied, match="bank's own accounts"):
        lite.post_journal(customer, legs, idempotency_key="c")
    with pytest.raises(PermissionDenied):
        lite.post_journal(teller, legs, idempotency_key="t")
    with pytest.raises(PermissionDenied, match="on behalf"):
        lite.post_journal(customer, legs, idempotency_key="c", requested_by=customer)
    # A bank account named by id is refused like someone else's account.
    fx = lite.internal_account_id(FX, "CNY")
    with pytest.raises(NotFound):
        lite.post_journal(
            system, [JournalLeg.take(fx, Money.of("1", "CNY")), JournalLeg.give(cny.id,
            Money.of("1", "CNY"))], idempotency_key="id",
        )  # fmt: skip


def test_a_customer_debits_only_their_own_accounts(
    lite: BankingService, system: Principal, open_lite: OpenFn
) -> None:
    mine = open_lite("100")
    theirs = open_lite("100")
    me = Principal.customer(mine.customer_id or "")
    legs = [JournalLeg.take(theirs.id, Money.of("5", "CNY")),
            JournalLeg.give(mine.id, Money.of("5", "CNY"))]  # fmt: skip
    with pytest.raises(NotFound):
        lite.post_journal(system, legs, idempotency_key="steal", requested_by=me)
    with pytest.raises(NotFound):
        lite.post_journal(me, legs, idempotency_key="steal")
    assert lite.balance(system, theirs.id).balance == Money.of("100", "CNY")
    # Their own multi-leg split (no bank account) needs no platform.
    other = open_lite("0", customer_id=mine.customer_id)
    lite.post_journal(
        me,
        [JournalLeg.take(mine.id, Money.of("5", "CNY")),
         JournalLeg.give(other.id, Money.of("3", "CNY")),
         JournalLeg.give(theirs.id, Money.of("2", "CNY"))],
        idempotency_key="split",
    )  # fmt: skip
    assert lite.balance(system, theirs.id).balance == Money.of("102", "CNY")


class _Guard:
    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.seen: list[PostingIntent] = []
        self.settled: list[bool] = []

    def check(self, intent: PostingIntent) -> GuardDecision:
        self.seen.append(intent)
        return GuardDecision(self.verdict, ("test",), "v1")

    def settle(
        self, intent: PostingIntent, decision: GuardDecision, *, posted: bool, reason: str | None
    ) -> None:
        self.settled.append(posted)


def test_a_refused_journal_stays_refused_under_its_key(
    engine: Engine, clock: ManualClock, system: Principal, open_account: OpenFn
) -> None:
    """Issue 11's rule for journals: the key's first definitive answer (here a refusal) is what
    every retry gets, even once a top-up would let the same entry post."""
    svc = BankingService(engine, clock)
    cny = open_account("50.00", "CNY")
    usd = open_account("0", "USD", customer_id=cny.customer_id)
    customer = Principal.customer(cny.customer_id or "")
    legs = _fx_legs(cny.id, usd.id, "72.00", "10.00")
    with pytest.raises(InsufficientFunds) as first:
        svc.post_journal(system, legs, idempotency_key="r", requested_by=customer)
    svc.deposit(system, cny.id, Money.of("100", "CNY"), idempotency_key="top-up")
    with pytest.raises(BusinessRuleViolation) as retry:
        svc.post_journal(system, legs, idempotency_key="r", requested_by=customer)
    assert (retry.value.code, retry.value.detail, retry.value.field) == (
        first.value.code, first.value.detail, first.value.field,
    )  # fmt: skip
    assert retry.value.extra.get("replayed") is True
    assert svc.balance(system, usd.id).balance == Money.of("0", "USD")
    assert svc.balance(system, cny.id).balance == Money.of("150.00", "CNY")
    with pytest.raises(IdempotencyConflict):  # the key is spent on that request
        svc.post_journal(
            system, _fx_legs(cny.id, usd.id, "7.20", "1.00"), idempotency_key="r",
            requested_by=customer,
        )  # fmt: skip
    # A guard's decline is kept too (the guard is not asked again); a step-up is not.
    declining = BankingService(engine, clock, guard=_Guard(Verdict.DECLINE))
    with pytest.raises(PostingDeclined):
        declining.post_journal(system, legs, idempotency_key="d", requested_by=customer)
    approving = _Guard(Verdict.APPROVE)
    again = BankingService(engine, clock, guard=approving)
    with pytest.raises(BusinessRuleViolation) as kept:
        again.post_journal(system, legs, idempotency_key="d", requested_by=customer)
    assert kept.value.code == "posting_declined" and approving.seen == []
    stepper = BankingService(engine, clock, guard=_Guard(Verdict.STEP_UP))
    with pytest.raises(StepUpRequired):
        stepper.post_journal(system, legs, idempotency_key="s", requested_by=customer)
    assert again.post_journal(system, legs, idempotency_key="s", requested_by=customer).legs
    assert svc.balance(system, usd.id).balance == Money.of("10.00", "USD")


def test_the_guard_sees_the_customer_and_runs_after_idempotency(
    engine: Engine, clock: ManualClock, system: Principal
) -> None:
    plain = BankingService(engine, clock)
    guard = _Guard(Verdict.APPROVE)
    svc = BankingService(engine, clock, guard=guard)
    cid = plain.create_customer(system, kind="personal", display_name="G").id
    cny = plain.open_account(system, cid, kind="current", currency_code="CNY").id
    usd = plain.open_account(system, cid, kind="current", currency_code="USD").id
    plain.deposit(system, cny, Money.of("500", "CNY"), idempotency_key="f")
    customer = Principal.customer(cid)
    legs = _fx_legs(cny, usd, "72.00", "10.00")
    svc.post_journal(system, legs, idempotency_key="g", requested_by=customer)
    svc.post_journal(system, legs, idempotency_key="g", requested_by=customer)
    assert len(guard.seen) == 1 and guard.settled == [True]
    intent = guard.seen[0]
    assert intent.actor == customer and intent.kind == "journal"
    assert intent.from_account_id == cny and intent.from_customer_id == cid
    assert intent.amount == Money.of("72.00", "CNY")
    stepper = BankingService(engine, clock, guard=_Guard(Verdict.STEP_UP))
    with pytest.raises(StepUpRequired):
        stepper.post_journal(system, legs, idempotency_key="s", requested_by=customer)
    assert plain.balance(system, usd).balance == Money.of("10.00", "USD")


def test_racing_retries_of_one_key_post_once(
    svc: BankingService, system: Principal, open_account: OpenFn, engine: Engine
) -> None:
    cny = open_account("1000.00", "CNY")
    usd = open_account("0", "USD", customer_id=cny.customer_id)
    customer = Principal.customer(cny.customer_id or "")
    legs = _fx_legs(cny.id, usd.id, "72.00", "10.00")

    def post(_: int) -> str:
        return svc.post_journal(
            system, legs, idempotency_key="race", requested_by=customer
        ).entry_id

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(post, range(8)))
    assert len(ids) == 1
    assert svc.balance(system, usd.id).balance == Money.of("10.00", "USD")
    assert _sums(engine) == {"CNY": 0, "USD": 0}
