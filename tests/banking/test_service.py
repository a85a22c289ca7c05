"""BankingService behaviour on both backends: money movement, errors, authorisation, holds."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from finbridge.banking import (
    AccountStatus,
    BankingService,
    EntryKind,
    GuardDecision,
    HoldStatus,
    PostingDeclined,
    PostingIntent,
    Verdict,
)
from finbridge.banking.events import TransactionPosted
from finbridge.core import (
    AccountNotActive,
    Conflict,
    CurrencyMismatch,
    IdempotencyConflict,
    InsufficientFunds,
    ManualClock,
    Money,
    NotFound,
    PermissionDenied,
    Principal,
    Role,
    StepUpRequired,
    ValidationError,
)
from finbridge.lake.tables import OutboxRow

from .conftest import OpenFn

CNY = "CNY"


def test_transfer_moves_money_and_reads_back(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    a = open_account("100.00")
    b = open_account()
    me = Principal.customer(a.customer_id or "")
    result = svc.transfer(me, a.id, b.id, Money.of("30.25", CNY), idempotency_key="k1")
    assert result.kind is EntryKind.TRANSFER and not result.replayed
    assert svc.balance(me, a.id).available == Money.of("69.75", CNY)
    assert svc.balance(system, b.id).balance == Money.of("30.25", CNY)
    page = svc.history(me, a.id, limit=1)
    assert page.items[0].amount == Money.of("-30.25", CNY)
    assert page.items[0].balance_after == Money.of("69.75", CNY)
    older = svc.history(me, a.id, limit=1, cursor=page.next_cursor)
    assert older.items[0].kind is EntryKind.DEPOSIT and older.next_cursor is None
    assert svc.verify_ledger(system).ok


def test_retry_returns_first_result_and_posts_once(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    a, b = open_account("50"), open_account()
    me = Principal.customer(a.customer_id or "")
    first = svc.transfer(me, a.id, b.id, Money.of("50", CNY), idempotency_key="same")
    # The account is now empty: a retry must still return the first result, not fail.
    again = svc.transfer(me, a.id, b.id, Money.of("50", CNY), idempotency_key="same")
    assert again.replayed and again.entry_id == first.entry_id
    assert svc.balance(system, b.id).balance == Money.of("50", CNY)
    with pytest.raises(IdempotencyConflict, match="different request"):
        svc.transfer(me, a.id, b.id, Money.of("49", CNY), idempotency_key="same")


def test_idempotency_keys_are_scoped_to_the_actor(
    lite: BankingService, system: Principal, open_lite: OpenFn
) -> None:
    a, b = open_lite("10"), open_lite("10")
    alice = Principal.customer(a.customer_id or "")
    bob = Principal.customer(b.customer_id or "")
    lite.transfer(alice, a.id, b.id, Money.of("1", CNY), idempotency_key="k")
    # Bob cannot replay Alice's key to learn her result: his own request is judged afresh.
    with pytest.raises(NotFound):
        lite.transfer(bob, a.id, b.id, Money.of("1", CNY), idempotency_key="k")
    lite.transfer(bob, b.id, a.id, Money.of("1", CNY), idempotency_key="k")
    assert lite.balance(system, a.id).balance == Money.of("10", CNY)


@pytest.mark.parametrize(
    ("amount", "error", "match"),
    [
        (lambda: Money.of("0", CNY), ValidationError, "amount: amount must be greater than zero"),
        (lambda: Money.of("-1", CNY), ValidationError, "amount: .*greater than zero"),
        (lambda: Money.of("1.001", CNY), ValidationError, "more decimal places"),
        (lambda: Decimal("1"), ValidationError, "amount: amount must be Money"),
        (lambda: Money.of("1", "USD"), CurrencyMismatch, "holds CNY, not USD"),
        (lambda: Money.of("1000", CNY), InsufficientFunds, "available"),
    ],
)
def test_bad_amounts_are_refused_and_change_nothing(
    lite: BankingService, system: Principal, open_lite: OpenFn, amount, error, match
) -> None:
    a, b = open_lite("100"), open_lite()
    with pytest.raises(error, match=match):
        lite.transfer(system, a.id, b.id, amount(), idempotency_key="bad")
    assert lite.balance(system, a.id).balance == Money.of("100", CNY)
    assert lite.history(system, b.id).items == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"idempotency_key": ""}, "idempotency_key"),
        ({"idempotency_key": "x" * 201}, "idempotency_key"),
        ({"idempotency_key": "k", "description": "d" * 501}, "description"),
    ],
)
def test_bad_request_fields_name_the_field(
    lite: BankingService, system: Principal, open_lite: OpenFn, kwargs, field
) -> None:
    a, b = open_lite("10"), open_lite()
    with pytest.raises(ValidationError) as err:
        lite.transfer(system, a.id, b.id, Money.of("1", CNY), **kwargs)
    assert err.value.field == field


def test_missing_idempotency_key_is_a_type_error_for_python_callers(
    lite: BankingService, system: Principal, open_lite: OpenFn
) -> None:
    a, b = open_lite("10"), open_lite()
    with pytest.raises(TypeError, match="idempotency_key"):
        lite.transfer(system, a.id, b.id, Money.of("1", CNY))  # type: ignore[call-arg]


@pytest.mark.parametrize("target", ["unknown", "malformed", "others"])
def test_unknown_or_other_peoples_accounts_are_not_found(
    lite: BankingService, open_lite: OpenFn, target: str
) -> None:
    mine, theirs = open_lite("10"), open_lite("10")
    me = Principal.customer(mine.customer_id or "")
    src = {
        "unknown": "01900000-0000-7000-8000-000000000000",
        "malformed": "not-an-id",
        "others": theirs.id,
    }[target]
    with pytest.raises(NotFound, match="not found"):
        lite.transfer(me, src, mine.id, Money.of("1", CNY), idempotency_key="x")
    with pytest.raises(NotFound):
        lite.balance(me, src)
    with pytest.raises(NotFound):
        lite.history(me, src)


def test_only_the_platform_moves_the_banks_own_accounts_by_transfer(
    lite: BankingService, teller: Principal, open_lite: OpenFn
) -> None:
    a = open_lite("10")
    cash = lite.internal_account_id("cash", CNY)  # -10 after the funding deposit
    with pytest.raises(NotFound, match="not found"):
        lite.transfer(teller, cash, a.id, Money.of("1000", CNY), idempotency_key="mint")
    with pytest.raises(NotFound, match="not found"):
        lite.transfer(teller, a.id, cash, Money.of("1", CNY), idempotency_key="sink")
    assert lite.balance(teller, a.id).balance == Money.of("10", CNY)
    lite.transfer(Principal.system(), cash, a.id, Money.of("1", CNY), idempotency_key="sys")


def test_same_account_transfer_is_refused(lite: BankingService, open_lite: OpenFn) -> None:
    a = open_lite("10")
    with pytest.raises(ValidationError, match="same account"):
        lite.transfer(Principal.system(), a.id, a.id, Money.of("1", CNY), idempotency_key="s")


def test_frozen_accounts_refuse_debits_but_take_credits(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    a, b = open_account("10"), open_account("10")
    svc.freeze_account(system, a.id, reason="fraud check")
    with pytest.raises(AccountNotActive, match="frozen"):
        svc.transfer(system, a.id, b.id, Money.of("1", CNY), idempotency_key="f1")
    svc.transfer(system, b.id, a.id, Money.of("1", CNY), idempotency_key="f2")
    assert svc.unfreeze_account(system, a.id).status is AccountStatus.OPEN
    svc.transfer(system, a.id, b.id, Money.of("11", CNY), idempotency_key="f3")


def test_close_needs_zero_balance_and_closed_refuses_everything(
    lite: BankingService, system: Principal, open_lite: OpenFn
) -> None:
    a, b = open_lite("10"), open_lite("10")
    with pytest.raises(Conflict, match="zero balance"):
        lite.close_account(system, a.id)
    lite.transfer(system, a.id, b.id, Money.of("10", CNY), idempotency_key="empty")
    assert lite.close_account(system, a.id).status is AccountStatus.CLOSED
    with pytest.raises(AccountNotActive, match="closed"):
        lite.transfer(system, b.id, a.id, Money.of("1", CNY), idempotency_key="c1")
    with pytest.raises(Conflict, match="cannot become open"):
        lite.unfreeze_account(system, a.id)


def test_floor_set_by_a_credit_facility_allows_overdraft(
    lite: BankingService, system: Principal, open_lite: OpenFn
) -> None:
    a, b = open_lite("10"), open_lite()
    lite.set_floor(system, a.id, Money.of("-50", CNY))
    lite.transfer(system, a.id, b.id, Money.of("60", CNY), idempotency_key="o1")
    assert lite.balance(system, a.id).balance == Money.of("-50", CNY)
    with pytest.raises(InsufficientFunds):
        lite.transfer(system, a.id, b.id, Money.of("0.01", CNY), idempotency_key="o2")
    with pytest.raises(Conflict, match="below that floor"):
        lite.set_floor(system, a.id, Money.of("0", CNY))
    with pytest.raises(ValidationError, match="negative"):
        lite.set_floor(system, a.id, Money.of("5", CNY))


def test_scopes_and_kinds_of_actor(
    lite: BankingService, system: Principal, open_lite: OpenFn
) -> None:
    a, b = open_lite("10"), open_lite()
    analyst = Principal.operator("ana", [Role.RISK_ANALYST])
    me = Principal.customer(a.customer_id or "")
    with pytest.raises(PermissionDenied, match="transfers:write"):
        lite.transfer(analyst, a.id, b.id, Money.of("1", CNY), idempotency_key="p1")
    assert lite.balance(analyst, a.id).balance == Money.of("10", CNY)
    with pytest.raises(PermissionDenied, match="accounts:write"):
        lite.deposit(me, a.id, Money.of("1", CNY), idempotency_key="p2")
    with pytest.raises(PermissionDenied):
        lite.freeze_account(me, a.id)
    with pytest.raises(PermissionDenied):
        lite.list_customers(me)
    with pytest.raises(NotFound):
        lite.get_customer(me, b.customer_id or "")
    assert lite.get_customer(me, a.customer_id or "").id == a.customer_id
    mine = lite.list_accounts(me, customer_id=None)
    assert [x.id for x in mine.items] == [a.id]
    with pytest.raises(NotFound):
        lite.list_accounts(me, customer_id=b.customer_id)


def test_teller_deposit_and_withdraw_against_cash(
    lite: BankingService, teller: Principal, open_lite: OpenFn
) -> None:
    a = open_lite()
    lite.deposit(teller, a.id, Money.of("20", CNY), idempotency_key="d")
    lite.withdraw(teller, a.id, Money.of("5", CNY), idempotency_key="w")
    with pytest.raises(InsufficientFunds):
        lite.withdraw(teller, a.id, Money.of("16", CNY), idempotency_key="w2")
    cash = lite.get_account(teller, lite.internal_account_id("cash", CNY))
    assert cash.balance == Money.of("-15", CNY)  # the bank's side mirrors the deposits
    assert lite.deposits_by_currency(teller)[CNY] == Money.of("15", CNY)


def test_customer_count_is_for_operators_only(
    lite: BankingService, teller: Principal, open_lite: OpenFn
) -> None:
    before = lite.count_customers(teller)
    a = open_lite()
    open_lite()
    assert lite.count_customers(teller) == before + 2
    with pytest.raises(PermissionDenied, match="lacks scope 'customers:read'"):
        lite.count_customers(Principal.customer(a.customer_id or ""))


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda s, p, c: s.create_customer(p, kind="alien", display_name="x"), "kind"),
        (lambda s, p, c: s.create_customer(p, kind="personal", display_name=" "), "display_name"),
        (
            lambda s, p, c: s.open_account(p, c, kind="current", currency_code="XXX"),
            "currency",
        ),
        (
            lambda s, p, c: s.open_account(p, c, kind="internal", currency_code="CNY"),
            "kind",
        ),
        (
            lambda s, p, c: s.open_account(
                p, c, kind="current", currency_code="CNY", interest_rate="0.01"
            ),
            "interest_rate",
        ),
        (
            lambda s, p, c: s.open_account(
                p, c, kind="savings", currency_code="CNY", interest_rate="1.5"
            ),
            "interest_rate",
        ),
        (lambda s, p, c: s.list_accounts(p, limit=0), "limit"),
    ],
)
def test_bad_customer_and_account_input(lite: BankingService, system: Principal, call, field):
    cid = lite.create_customer(system, kind="corporate", display_name="Acme").id
    with pytest.raises(ValidationError) as err:
        call(lite, system, cid)
    assert err.value.field == field


def test_hold_lifecycle(
    svc: BankingService, system: Principal, open_account: OpenFn, clock: ManualClock
) -> None:
    a, merchant = open_account("100"), open_account()
    hold = svc.place_hold(system, a.id, Money.of("60", CNY), idempotency_key="h1")
    assert svc.place_hold(system, a.id, Money.of("60", CNY), idempotency_key="h1").replayed
    assert svc.balance(system, a.id).available == Money.of("40", CNY)
    with pytest.raises(InsufficientFunds):
        svc.transfer(system, a.id, merchant.id, Money.of("41", CNY), idempotency_key="t")
    with pytest.raises(ValidationError, match="more than the hold"):
        svc.capture_hold(
            system, hold.id, to_account_id=merchant.id, idempotency_key="c",
            amount=Money.of("61", CNY),
        )  # fmt: skip
    cap = svc.capture_hold(
        system, hold.id, to_account_id=merchant.id, idempotency_key="c", amount=Money.of("45", CNY)
    )
    again = svc.capture_hold(
        system, hold.id, to_account_id=merchant.id, idempotency_key="c", amount=Money.of("45", CNY)
    )
    assert again.replayed and again.entry_id == cap.entry_id
    bal = svc.balance(system, a.id)
    assert (bal.balance, bal.held) == (Money.of("55", CNY), Money.of("0", CNY))
    with pytest.raises(Conflict, match="captured"):
        svc.release_hold(system, hold.id)

    h2 = svc.place_hold(
        system, a.id, Money.of("10", CNY), idempotency_key="h2",
        expires_at=clock.now() + timedelta(hours=1),
    )  # fmt: skip
    assert svc.release_hold(system, h2.id).status is HoldStatus.RELEASED
    assert svc.release_hold(system, h2.id).status is HoldStatus.RELEASED  # idempotent
    h3 = svc.place_hold(
        system, a.id, Money.of("10", CNY), idempotency_key="h3",
        expires_at=clock.now() + timedelta(hours=1),
    )  # fmt: skip
    clock.advance(timedelta(hours=2))
    assert svc.expire_holds(system) == 1
    assert svc.get_hold(system, h3.id).status is HoldStatus.EXPIRED
    with pytest.raises(Conflict, match="no longer active"):
        svc.capture_hold(system, h3.id, to_account_id=merchant.id, idempotency_key="c3")
    assert svc.balance(system, a.id).available == Money.of("55", CNY)
    assert svc.verify_ledger(system).ok


def test_frozen_account_cannot_take_a_hold(
    lite: BankingService, system: Principal, open_lite: OpenFn
) -> None:
    a = open_lite("100")
    lite.freeze_account(system, a.id)
    with pytest.raises(AccountNotActive):
        lite.place_hold(system, a.id, Money.of("1", CNY), idempotency_key="hf")


class _Guard:
    def __init__(self, verdict: Verdict) -> None:
        self.verdict = verdict
        self.seen: list[PostingIntent] = []

    def check(self, intent: PostingIntent) -> GuardDecision:
        self.seen.append(intent)
        return GuardDecision(self.verdict, ("velocity over 5/min",), "rules-v1")


@pytest.mark.parametrize(
    ("verdict", "error"),
    [
        (Verdict.DECLINE, PostingDeclined),
        (Verdict.STEP_UP, StepUpRequired),
        (Verdict.APPROVE, None),
    ],
)
def test_posting_guard_decides_before_posting(
    sqlite_engine, clock: ManualClock, system: Principal, verdict: Verdict, error
) -> None:
    guard = _Guard(verdict)
    svc = BankingService(sqlite_engine, clock, guard=guard)
    cid = svc.create_customer(system, kind="personal", display_name="G").id
    a = svc.open_account(system, cid, kind="current", currency_code=CNY)
    b = svc.open_account(system, cid, kind="savings", currency_code=CNY)
    svc.deposit(system, a.id, Money.of("10", CNY), idempotency_key="gd")
    me = Principal.customer(cid)
    call = lambda: svc.transfer(  # noqa: E731
        me, a.id, b.id, Money.of("5", CNY), idempotency_key="g", metadata={"device": "d1"}
    )
    if error is None:
        call()
        assert svc.balance(me, b.id).balance == Money.of("5", CNY)
    else:
        with pytest.raises(error, match="velocity"):
            call()
        assert svc.balance(me, b.id).balance == Money.of("0", CNY)
    intent = guard.seen[-1]
    assert (intent.from_customer_id, intent.metadata["device"]) == (cid, "d1")


def test_events_are_written_in_the_same_transaction(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    a, b = open_account("10"), open_account()
    svc.transfer(system, a.id, b.id, Money.of("3", CNY), idempotency_key="e1")
    with pytest.raises(InsufficientFunds):
        svc.transfer(system, a.id, b.id, Money.of("30", CNY), idempotency_key="e2")
    with svc.engine.connect() as conn:
        rows = conn.execute(
            select(OutboxRow.payload).where(OutboxRow.event_type == "transaction.posted")
        ).all()
        kinds = conn.execute(
            select(OutboxRow.event_type, func.count()).group_by(OutboxRow.event_type)
        ).all()
    transfers = [r.payload for r in rows if r.payload["kind"] == "transfer"]
    assert transfers == [
        {
            **transfers[0],
            "amount": "3.00",
            "currency": CNY,
            "from_account_id": a.id,
            "to_account_id": b.id,
        }
    ]
    assert dict(kinds)["customer.created"] == 2 and dict(kinds)["account.opened"] == 2


def test_refusals_on_the_single_statement_path_name_the_reason(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    """PostgreSQL posts in one statement; a refusal must still say exactly why, on both."""
    a, b, usd = open_account("10"), open_account("10"), open_account("10", currency="USD")
    me = Principal.customer(a.customer_id or "")
    cases = [
        (me, b.id, a.id, Money.of("1", CNY), NotFound, "not found"),  # someone else's
        (system, a.id, usd.id, Money.of("1", CNY), CurrencyMismatch, "holds USD"),
        (system, a.id, b.id, Money.of("10.01", CNY), InsufficientFunds, "10.00 CNY available"),
    ]
    for n, (actor, src, dst, amount, error, match) in enumerate(cases):
        with pytest.raises(error, match=match):
            svc.transfer(actor, src, dst, amount, idempotency_key=f"r{n}")
    svc.transfer(system, b.id, a.id, Money.of("10", CNY), idempotency_key="empty-b")
    svc.close_account(system, b.id)
    with pytest.raises(AccountNotActive, match="closed"):
        svc.transfer(system, a.id, b.id, Money.of("1", CNY), idempotency_key="to-closed")
    assert svc.balance(system, a.id).balance == Money.of("20", CNY)
    assert svc.verify_ledger(system).ok


def test_posted_event_and_bank_account_refusal_on_both_backends(
    svc: BankingService, system: Principal, teller: Principal, open_account: OpenFn
) -> None:
    """PostgreSQL builds the event and refuses the bank's accounts inside banking_post_pair."""
    a, b = open_account("10"), open_account()
    svc.transfer(
        system, a.id, b.id, Money.of("2.5", CNY), idempotency_key="ev", description="rent",
        channel="api", metadata={"merchant": 42},
    )  # fmt: skip
    with svc.engine.connect() as conn:
        row = conn.execute(
            select(OutboxRow.payload, OutboxRow.subject_id, OutboxRow.source).where(
                OutboxRow.event_type == "transaction.posted",
                OutboxRow.schema_version == 1,
            )
        ).all()[-1]
    assert TransactionPosted.model_validate(row.payload).model_dump(mode="json") == row.payload
    assert {k: v for k, v in row.payload.items() if k != "entry_id"} == {
        "kind": "transfer", "amount": "2.50", "currency": CNY, "from_account_id": a.id,
        "to_account_id": b.id, "from_customer_id": a.customer_id,
        "to_customer_id": b.customer_id, "description": "rent", "channel": "api",
        "merchant": "42",
    }  # fmt: skip
    assert (row.subject_id, row.source) == (a.customer_id, "banking")
    cash = svc.internal_account_id("cash", CNY)
    for src, dst, field in ((cash, a.id, "from_account_id"), (a.id, cash, "to_account_id")):
        with pytest.raises(NotFound, match="not found") as caught:
            svc.transfer(teller, src, dst, Money.of("1", CNY), idempotency_key=f"bank-{field}")
        assert caught.value.field == field
    assert svc.balance(system, a.id).balance == Money.of("7.5", CNY)
    assert svc.verify_ledger(system).ok
