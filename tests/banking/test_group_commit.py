"""SQLite group commit: queued postings share one transaction, each still all or nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from itertools import groupby
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from tests.banking.conftest import OpenFn

from finbridge.banking import BankingService
from finbridge.banking.ledger import _group
from finbridge.banking.ledger._connections import posting_connections
from finbridge.banking.ledger._group import group_commit
from finbridge.banking.ledger._posting import Replay
from finbridge.banking.service._checks import scoped
from finbridge.banking.writelock import writer_lock
from finbridge.core import BusinessRuleViolation, InsufficientFunds, Money, Principal

# The end of a transaction that commits: one read of every key, one INSERT of each kind.
_KEYS_ROWS_COMMIT = [
    "SELECT",
    "INSERT INTO banking_postings",
    "INSERT INTO banking_journal_entries",
    "INSERT INTO lake_outbox",
    "COMMIT",
]


def _queued_behind_the_writer_lock(
    svc: BankingService, calls: list[Callable[[], Any]]
) -> list[Any]:
    """Run ``calls`` in threads while the writer lock is held, so all but the first queue up
    behind its leader; release once every one is queued. Returns results or exceptions."""
    group = group_commit(svc.engine, writer_lock(svc.engine))
    out: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            out[i] = calls[i]()
        except Exception as exc:  # the outcome under test
            out[i] = exc

    with writer_lock(svc.engine):
        first = threading.Thread(target=run, args=(0,))
        first.start()
        deadline = time.monotonic() + 10
        while not group._leading and time.monotonic() < deadline:  # the leader waits for us
            time.sleep(0.005)
        threads = [threading.Thread(target=run, args=(i,)) for i in range(1, len(calls))]
        for t in threads:
            t.start()
        while len(group._queue) < len(threads) and time.monotonic() < deadline:
            time.sleep(0.005)
        assert len(group._queue) == len(threads), "the postings did not queue"
    for t in [first, *threads]:
        t.join(30)
    return out


def test_queued_transfers_commit_together_and_each_stays_all_or_nothing(
    lite: BankingService, open_lite: OpenFn, system: Principal
) -> None:
    a, b, c, poor = open_lite("100.00"), open_lite("50.00"), open_lite(), open_lite("1.00")
    group = group_commit(lite.engine, writer_lock(lite.engine))
    batches, postings = group.batches, group.postings

    def move(src: str, dst: str, amount: str, key: str) -> Callable[[], Any]:
        return lambda: lite.transfer(system, src, dst, Money.of(amount, "CNY"), idempotency_key=key)

    out = _queued_behind_the_writer_lock(
        lite,
        [
            move(a.id, c.id, "1.00", "g-0"),  # the leader, alone in the first batch
            move(a.id, b.id, "10.00", "g-1"),  # a, b and c move twice in the batch: rounds
            move(b.id, c.id, "20.00", "g-2"),
            move(poor.id, c.id, "5.00", "g-3"),  # debit refused, credit admitted: rerun
            move(a.id, c.id, "30.00", "g-4"),
            move(a.id, b.id, "10.00", "g-1"),  # the same key again: the first result
        ],
    )
    assert isinstance(out[3], InsufficientFunds)
    # The threads queue in whatever order the scheduler starts them, so either g-1 may be the
    # one posted: the other meets its committed entry as a replay.
    posted, replay = sorted((out[1], out[5]), key=lambda r: r.replayed)
    assert replay.entry_id == posted.entry_id and replay.replayed and not posted.replayed
    assert not any(isinstance(r, Exception) for i, r in enumerate(out) if i != 3), out
    balance = {x.id: lite.get_account(system, x.id).balance for x in (a, b, c, poor)}
    assert balance == {
        a.id: Money.of("59.00", "CNY"),
        b.id: Money.of("40.00", "CNY"),
        c.id: Money.of("51.00", "CNY"),
        poor.id: Money.of("1.00", "CNY"),
    }
    # Four postings in one transaction: the leader took only its own (the others queued while
    # it waited for the writer lock) and absorbed g-1, g-2, g-3 and g-4 once its transaction
    # was open; g-3's refused debit rolled that back and the batch ran again without it. The
    # second g-1 waited for the next batch and met the committed first one.
    assert (group.postings - postings, group.batches - batches) == (4, 1)
    with lite.engine.connect() as conn:
        # Each posting's running balance is exact: the account's history replays to its balance.
        for account in (a, b, c):
            rows = conn.execute(
                text(
                    "SELECT amount_minor, balance_after_minor FROM banking_postings"
                    " WHERE account_id = :id ORDER BY id"
                ),
                {"id": account.id},
            ).all()
            running = 0
            for amount, after in rows:
                running += amount
                assert after == running
            assert running == balance[account.id].minor
        events = conn.execute(
            text("SELECT count(*) FROM lake_outbox WHERE event_type = 'transaction.posted'")
        ).scalar()
    assert events == 4 + 3  # the four transfers and the three opening deposits
    assert lite.verify_ledger(system).ok


def test_a_failing_posting_in_a_batch_fails_alone(
    lite: BankingService, open_lite: OpenFn, system: Principal
) -> None:
    a, b = open_lite("100.00"), open_lite()
    with lite.engine.begin() as conn:  # a database rule the service does not know about
        conn.execute(
            text(
                "CREATE TRIGGER refuse_13 BEFORE INSERT ON banking_postings"
                " WHEN NEW.amount_minor = 1300"
                " BEGIN SELECT RAISE(ABORT, 'thirteen refused'); END"
            )
        )

    def move(amount: str, key: str) -> Callable[[], Any]:
        return lambda: lite.transfer(
            system, a.id, b.id, Money.of(amount, "CNY"), idempotency_key=key
        )

    out = _queued_behind_the_writer_lock(
        lite, [move("1.00", "f-0"), move("2.00", "f-1"), move("13.00", "f-2"), move("3.00", "f-3")]
    )
    assert "thirteen refused" in str(out[2])
    assert [r.amount for i, r in enumerate(out) if i != 2] == [
        Money.of(x, "CNY") for x in ("1.00", "2.00", "3.00")
    ]
    assert lite.get_account(system, b.id).balance == Money.of("6.00", "CNY")
    assert lite.verify_ledger(system).ok


def test_a_posting_arriving_while_the_batch_runs_joins_its_transaction(
    lite: BankingService, open_lite: OpenFn, system: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = open_lite("100.00"), open_lite(), open_lite()
    group = group_commit(lite.engine, writer_lock(lite.engine))
    batches, postings = group.batches, group.postings
    apply = _group._apply
    late: list[Any] = []
    statements: list[str] = []
    posting_connections(lite.engine).connection().set_trace_callback(statements.append)

    def apply_then_let_one_arrive(
        driver: Any, dialect: Any, batch: list[Any], admitted: list[Any]
    ) -> Any:
        """The first set of statements runs, then another posting queues (still inside the
        open transaction), as a request thread would while the leader works."""
        retry = apply(driver, dialect, batch, admitted)
        if not late:
            two = Money.of("2.00", "CNY")
            thread = threading.Thread(
                target=lambda: late.append(
                    lite.transfer(system, a.id, c.id, two, idempotency_key="w-1")
                )
            )
            late.append(thread)
            thread.start()
            deadline = time.monotonic() + 10
            while not group._queue and time.monotonic() < deadline:
                time.sleep(0.005)
            assert group._queue, "the second posting did not queue"
        return retry

    monkeypatch.setattr(_group, "_apply", apply_then_let_one_arrive)
    first = lite.transfer(system, a.id, b.id, Money.of("1.00", "CNY"), idempotency_key="w-0")
    late[0].join(30)
    posting_connections(lite.engine).connection().set_trace_callback(None)
    assert first.amount == Money.of("1.00", "CNY") and late[1].amount == Money.of("2.00", "CNY")
    # Both in the first one's transaction: one commit, the later posting's statements after.
    assert (group.postings - postings, group.batches - batches) == (2, 1)
    # Two sets of balance moves, one read of both keys, then one INSERT of each kind records
    # both postings.
    assert _kinds(statements) == ["BEGIN", "UPDATE", "UPDATE", *_KEYS_ROWS_COMMIT]
    assert lite.get_account(system, a.id).balance == Money.of("97.00", "CNY")
    with lite.engine.connect() as conn:
        seq = (
            conn.execute(
                text(
                    "SELECT json_extract(payload, '$.entry_id') FROM lake_outbox"
                    " WHERE event_type = 'transaction.posted' ORDER BY seq DESC LIMIT 2"
                )
            )
            .scalars()
            .all()
        )
    assert seq == [late[1].entry_id, first.entry_id]  # the events in posting order
    assert lite.verify_ledger(system).ok


def test_a_retried_key_in_a_batch_gets_its_first_answer_and_the_batch_runs_without_it(
    lite: BankingService, open_lite: OpenFn, system: Principal
) -> None:
    a, b, c, poor = open_lite("100.00"), open_lite(), open_lite(), open_lite("1.00")
    d, e, f, g, x, y = (
        open_lite("10.00"),
        open_lite(),
        open_lite("10.00"),
        open_lite(),
        open_lite("10.00"),
        open_lite(),
    )

    def move(src: str, dst: str, amount: str, key: str) -> Callable[[], Any]:
        return lambda: lite.transfer(system, src, dst, Money.of(amount, "CNY"), idempotency_key=key)

    # Two keys with an answer already: a refusal (the request is the same, so is the answer)
    # and a posting that took all of x's money, so its retry's debit would be refused now.
    with pytest.raises(InsufficientFunds):
        move(poor.id, c.id, "5.00", "r-1")()
    first = move(x.id, y.id, "10.00", "p-2")()
    group = group_commit(lite.engine, writer_lock(lite.engine))
    batches, postings = group.batches, group.postings
    statements: list[str] = []
    posting_connections(lite.engine).connection().set_trace_callback(statements.append)
    try:
        out = _queued_behind_the_writer_lock(
            lite,
            [
                move(a.id, b.id, "1.00", "k-0"),  # the leader; absorbs the other four at once
                move(poor.id, c.id, "5.00", "r-1"),
                move(x.id, y.id, "10.00", "p-2"),
                move(d.id, e.id, "2.00", "k-3"),
                move(f.id, g.id, "3.00", "k-4"),
            ],
        )
    finally:
        posting_connections(lite.engine).connection().set_trace_callback(None)
    # The service gives each retried key its first answer, whatever the accounts say now.
    refusal = out[1]
    assert isinstance(refusal, BusinessRuleViolation), refusal
    assert refusal.code == InsufficientFunds.code and refusal.extra["replayed"], refusal
    assert out[2].entry_id == first.entry_id and out[2].replayed
    assert [out[i].amount for i in (0, 3, 4)] == [Money.of(m, "CNY") for m in ("1", "2", "3")]
    # The retried postings' credits moved (their debits are refused now) before the
    # transaction's one key read found both keys: rolled back, then run without them.
    assert _kinds(statements) == [
        *["BEGIN", "UPDATE", "UPDATE", "SELECT", "ROLLBACK"],
        *["BEGIN", "UPDATE", *_KEYS_ROWS_COMMIT],
    ]
    assert (group.postings - postings, group.batches - batches) == (3, 1)
    balances = {z.id: lite.get_account(system, z.id).balance.minor for z in (a, b, c, poor)}
    balances |= {z.id: lite.get_account(system, z.id).balance.minor for z in (d, e, f, g, x, y)}
    assert balances == {
        a.id: 9900, b.id: 100, c.id: 0, poor.id: 100,
        d.id: 800, e.id: 200, f.id: 700, g.id: 300, x.id: 0, y.id: 1000,
    }  # fmt: skip
    assert lite.verify_ledger(system).ok


def test_a_key_with_both_an_entry_and_a_refusal_is_answered_from_the_entry(
    lite: BankingService, open_lite: OpenFn, system: Principal
) -> None:
    a, b = open_lite("10.00"), open_lite()
    lite.transfer(system, a.id, b.id, Money.of("1.00", "CNY"), idempotency_key="both")
    key = scoped(system, "both")
    with lite.engine.begin() as conn:  # a refusal stored beside it (only a race does this)
        conn.execute(
            text(
                "INSERT INTO banking_refusals (idempotency_key, request_fingerprint, code,"
                " title, detail, field, extra, created_at) VALUES (:k, 'fp', 'insufficient_funds',"
                " 'Insufficient funds', 'no', NULL, '{}', '2026-01-01 00:00:00')"
            ),
            {"k": key},
        )
    queued = _group._Queued(work=SimpleNamespace(scoped_key=key))  # type: ignore[arg-type]
    fresh = _group._Queued(work=SimpleNamespace(scoped_key=key + "-new"))  # type: ignore[arg-type]
    driver = posting_connections(lite.engine).connection()
    assert _group._answered(driver, [queued, fresh]) == [queued]
    assert isinstance(queued.error, Replay) and fresh.error is None


def _kinds(statements: list[str]) -> list[str]:
    """The traced statements' kinds (an INSERT with its table). The trace repeats a statement
    for each trigger it fires: counted once."""
    ran = [x.strip() for x, _ in groupby(statements)]
    return [x.split(" (")[0] if x.startswith("INSERT") else x.split()[0] for x in ran]


def test_postings_beyond_one_batch_wait_for_the_next(
    lite: BankingService, open_lite: OpenFn, system: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_group, "MAX_BATCH", 2)
    a, b = open_lite("100.00"), open_lite()

    def move(key: str) -> Callable[[], Any]:
        return lambda: lite.transfer(
            system, a.id, b.id, Money.of("1.00", "CNY"), idempotency_key=key
        )

    out = _queued_behind_the_writer_lock(lite, [move(f"m-{i}") for i in range(6)])
    assert not any(isinstance(r, Exception) for r in out), out
    assert lite.get_account(system, b.id).balance == Money.of("6.00", "CNY")


def test_a_waiter_interrupted_after_being_handed_the_lead_passes_it_on(
    lite: BankingService,
) -> None:
    group = _group.GroupCommit(lite.engine, writer_lock(lite.engine))
    handed, behind = (_group._Queued(work=None) for _ in range(2))  # type: ignore[arg-type]
    for q in (handed, behind):
        q.wake.acquire()  # both asleep
    group._queue, group._leading, handed.leads = [handed, behind], True, True
    group._abandon(handed)  # its caller was interrupted (KeyboardInterrupt) while waiting
    assert group._queue == [behind] and group._leading and behind.leads
    assert behind.wake.acquire(blocking=False), "the next waiter was woken to lead"
    group._abandon(behind)
    assert group._queue == [] and not group._leading  # the next posting leads at once
