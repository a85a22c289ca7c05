"""16+ concurrent workers on both backends: conservation, no lost update, no double post."""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from finbridge.banking import BankingService
from finbridge.banking.tables import entries_table
from finbridge.core import InsufficientFunds, Money, Principal

from .conftest import OpenFn

WORKERS = 16


def test_racing_transfers_conserve_money_and_lose_no_update(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    accounts = [open_account("100").id for _ in range(6)]
    expected = Counter({a: 10_000 for a in accounts})  # minor units, from successful results
    lock = threading.Lock()
    refused = Counter[str]()

    def worker(n: int) -> None:
        rng = random.Random(n)
        for i in range(12):
            src, dst = rng.sample(accounts, 2)
            cents = rng.randint(1, 6000)
            try:
                svc.transfer(
                    system, src, dst, Money.from_minor(cents, "CNY"), idempotency_key=f"{n}-{i}"
                )
            except InsufficientFunds:
                with lock:
                    refused["funds"] += 1
                continue
            with lock:
                expected[src] -= cents
                expected[dst] += cents

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(worker, range(WORKERS)))

    balances = {a: svc.balance(system, a).balance.minor for a in accounts}
    assert balances == dict(expected), "a concurrent update was lost"
    assert sum(balances.values()) == 60_000
    assert min(balances.values()) >= 0
    report = svc.verify_ledger(system)
    assert report.ok, report
    assert refused["funds"] > 0, "the race never hit the floor: the test proves too little"


def test_racing_retries_of_one_key_post_exactly_once(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    a, b = open_account("100"), open_account()
    barrier = threading.Barrier(WORKERS)

    def retry(_: int) -> str:
        barrier.wait()
        return svc.transfer(
            system, a.id, b.id, Money.of("70", "CNY"), idempotency_key="the-one"
        ).entry_id

    with ThreadPoolExecutor(WORKERS) as pool:
        ids = list(pool.map(retry, range(WORKERS)))
    assert len(set(ids)) == 1
    assert svc.balance(system, b.id).balance == Money.of("70", "CNY")
    with svc.engine.connect() as conn:
        n = conn.execute(
            select(func.count())
            .select_from(entries_table)
            .where(entries_table.c.kind == "transfer")
        ).scalar_one()
    assert n == 1


def test_holds_and_transfers_racing_on_one_account_never_overdraw(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    a, b = open_account("100"), open_account()

    def worker(n: int) -> int:
        ok = 0
        for i in range(4):
            try:
                if (n + i) % 2:
                    svc.place_hold(system, a.id, Money.of("7", "CNY"), idempotency_key=f"h{n}-{i}")
                else:
                    svc.transfer(
                        system, a.id, b.id, Money.of("7", "CNY"), idempotency_key=f"t{n}-{i}"
                    )
                ok += 1
            except InsufficientFunds:
                pass
        return ok

    with ThreadPoolExecutor(WORKERS) as pool:
        succeeded = sum(pool.map(worker, range(WORKERS)))
    bal = svc.balance(system, a.id)
    assert succeeded == 14  # floor(100 / 7) reservations or payments fit, no more
    assert bal.available == Money.of("2", "CNY")
    assert svc.verify_ledger(system).ok


def test_sqlite_writer_lock_excludes_other_processes(tmp_path) -> None:
    from finbridge.banking.writelock import SQLiteWriterLock

    # Two lock objects have two open file descriptions, exactly like two processes.
    first, second = (SQLiteWriterLock(str(tmp_path / "x.db")) for _ in range(2))
    entered = threading.Event()

    def other_process() -> None:
        with second:
            entered.set()

    with first:
        t = threading.Thread(target=other_process)
        t.start()
        assert not entered.wait(0.3), "the second writer got in while the first held the lock"
    t.join(5)
    assert entered.is_set()
