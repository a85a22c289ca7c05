"""SQLite's driver-level posting path: same rows as the Core path, checkpoints off the commit."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest
from sqlalchemy import text
from tests.banking.conftest import OpenFn

from finbridge.banking import BankingService
from finbridge.banking.ledger import _connections
from finbridge.banking.ledger._connections import posting_connections
from finbridge.core import ManualClock, Money, Principal


def test_transfer_writes_its_event_as_the_core_path_writes_rows(
    lite: BankingService, open_lite: OpenFn, system: Principal, clock: ManualClock
) -> None:
    a, b = open_lite("100.00"), open_lite()
    posted = lite.transfer(system, a.id, b.id, Money.of("12.34", "CNY"), idempotency_key="t-1")
    hold = lite.place_hold(system, a.id, Money.of("1.00", "CNY"), idempotency_key="h-1")
    with lite.engine.connect() as conn:
        rows = {
            r.event_type: r
            for r in conn.execute(
                text("SELECT event_type, occurred_at, subject_id, payload FROM lake_outbox")
            )
        }
        entry = conn.execute(
            text("SELECT result, created_at FROM banking_journal_entries WHERE id = :id"),
            {"id": posted.entry_id},
        ).one()
    event, placed = rows["transaction.posted"], rows["hold.placed"]
    # Timestamps in the DateTime column's own text form (the hold went through the Session).
    assert event.occurred_at == placed.occurred_at == clock.now().strftime("%Y-%m-%d %H:%M:%S.%f")
    assert entry.created_at == event.occurred_at
    payload = json.loads(event.payload)
    assert payload["entry_id"] == posted.entry_id
    assert payload["amount"] == "12.34"
    owners = (payload["from_customer_id"], payload["to_customer_id"])
    assert owners == (a.customer_id, b.customer_id)
    assert event.subject_id == a.customer_id
    assert json.loads(entry.result) == posted.to_json()
    assert hold.amount == Money.of("1.00", "CNY")


def test_a_refused_transfer_leaves_the_connection_usable(
    lite: BankingService, open_lite: OpenFn, system: Principal
) -> None:
    from finbridge.core import InsufficientFunds

    a, b = open_lite("5.00"), open_lite()
    with pytest.raises(InsufficientFunds):
        lite.transfer(system, a.id, b.id, Money.of("6.00", "CNY"), idempotency_key="r-1")
    lite.transfer(system, a.id, b.id, Money.of("5.00", "CNY"), idempotency_key="r-2")
    assert lite.get_account(system, b.id).balance == Money.of("5.00", "CNY")
    assert lite.verify_ledger(system).ok


def test_checkpoints_run_beside_the_writers_and_stop_when_idle(
    lite: BankingService, open_lite: OpenFn, system: Principal, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_connections, "_COMMITS_PER_CHECKPOINT", 4)
    monkeypatch.setattr(_connections, "_IDLE_SECONDS", 0.2)
    a, b = open_lite("100.00"), open_lite()
    for i in range(20):
        lite.transfer(system, a.id, b.id, Money.of("1.00", "CNY"), idempotency_key=f"c-{i}")
    pool = posting_connections(lite.engine)
    driver = pool.connection()
    assert driver.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
    with lite.engine.connect() as conn:  # the engine's other connections keep the default
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    deadline = time.monotonic() + 5
    while pool._thread is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool._thread is None, "the checkpointer exits once idle"
    busy, frames, done = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert busy == 0 and frames == done
    assert lite.get_account(system, b.id).balance == Money.of("20.00", "CNY")


def test_a_checkpointer_that_cannot_connect_logs_and_leaves(
    lite: BankingService, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pool = _connections.PostingConnections(lite.engine)
    unhandled: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: unhandled.append(args.exc_value))

    def gone() -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(pool, "_detached", gone)
    with caplog.at_level("ERROR", logger="finbridge.banking"):
        pool.committed()
        deadline = time.monotonic() + 5
        while pool._thread is not None and time.monotonic() < deadline:
            time.sleep(0.01)
    assert pool._thread is None, "the failed checkpointer clears its slot"
    assert unhandled == []
    assert "banking WAL checkpoint failed" in caplog.text
