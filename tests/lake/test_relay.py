"""The outbox relay: an event is in the lake iff its transaction committed, exactly once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select

from finbridge.core import ManualClock
from finbridge.lake import Event, EventLake, OutboxRelay, emit
from finbridge.lake.tables import OutboxRow
from finbridge.store import unit_of_work

from .conftest import T0


def login(subject: str, minute: int = 0) -> Event:
    return Event(
        "login",
        T0 + timedelta(minutes=minute),
        {"method": "totp", "success": True},
        "test",
        subject,
    )


class Boom(Exception):
    pass


def test_committed_events_are_published_rolled_back_never(
    engine: Engine, lake: EventLake, clock: ManualClock
) -> None:
    kept = login("kept")
    with unit_of_work(engine) as session:
        emit(session, kept)
    with pytest.raises(Boom):
        with unit_of_work(engine) as session:
            emit(session, login("lost"))
            raise Boom
    relay = OutboxRelay(engine, lake, clock=clock)
    assert relay.pending() == 1
    result = relay.drain()
    assert (result.published, result.batches) == (1, 1)
    assert [e.event_id for e in lake.events()] == [kept.event_id]
    assert relay.drain().published == 0
    with unit_of_work(engine, write=False) as session:
        row = session.scalars(select(OutboxRow)).one()
    assert row.published_at is not None


def test_batches_follow_seq_order(engine: Engine, lake: EventLake, clock: ManualClock) -> None:
    with unit_of_work(engine) as session:
        emit(session, *[login(f"c{i}", i) for i in range(7)])
    relay = OutboxRelay(engine, lake, clock=clock, batch_size=3)
    assert relay.run_once() == 3
    assert lake.count() == 3
    assert relay.drain().published == 4
    batches = sorted(c.batch or "" for c in lake.history() if c.operation == "WRITE")
    assert [b.split("-")[1] for b in batches] == ["000000000001", "000000000004", "000000000007"]


class CrashingRelay(OutboxRelay):
    """Dies after the Parquet file is on disk but before the rows are marked published."""

    def _before_mark_published(self) -> None:
        raise Boom("power cut")


def test_crash_between_file_and_commit_leaves_no_visible_duplicate(
    engine: Engine, lake: EventLake, clock: ManualClock
) -> None:
    with unit_of_work(engine) as session:
        emit(session, *[login(f"c{i}", i) for i in range(5)])
    with pytest.raises(Boom):
        CrashingRelay(engine, lake, clock=clock).run_once()
    assert lake.count() == 5  # the file landed...
    relay = OutboxRelay(engine, lake, clock=clock)
    assert relay.pending() == 5  # ...but the outbox still owns the events
    # A new event arrives before the retry, so the retried batch differs from the crashed one.
    with unit_of_work(engine) as session:
        emit(session, login("late", 9))
    assert relay.drain().published == 6
    assert len(lake.files()) == 2
    [row] = lake.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events")
    assert row == {"n": 6, "d": 6}


def test_retry_of_identical_batch_reuses_the_file(
    engine: Engine, lake: EventLake, clock: ManualClock
) -> None:
    with unit_of_work(engine) as session:
        emit(session, *[login(f"c{i}", i) for i in range(3)])
    with pytest.raises(Boom):
        CrashingRelay(engine, lake, clock=clock).run_once()
    OutboxRelay(engine, lake, clock=clock).drain()
    assert len(lake.files()) == 1 and lake.count() == 3


def test_concurrent_emitters_and_relays_publish_each_event_once(
    engine: Engine, lake: EventLake, clock: ManualClock
) -> None:
    writers, per_writer = 4, 15
    errors: list[BaseException] = []
    stop = threading.Event()

    def write(w: int) -> None:
        try:
            for i in range(per_writer):
                with unit_of_work(engine) as session:
                    emit(session, login(f"w{w}", i))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    def relay_loop() -> None:
        relay = OutboxRelay(engine, lake, clock=clock, batch_size=7)
        try:
            while not stop.is_set():
                relay.drain()
        except BaseException as exc:
            errors.append(exc)

    relays = [threading.Thread(target=relay_loop) for _ in range(3)]
    emitters = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    for t in relays + emitters:
        t.start()
    for t in emitters:
        t.join()
    stop.set()
    for t in relays:
        t.join()
    assert not errors, errors
    OutboxRelay(engine, lake, clock=clock).drain()
    total = writers * per_writer
    [row] = lake.query("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events")
    assert row == {"n": total, "d": total}
    with unit_of_work(engine, write=False) as session:
        unpublished = session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.published_at.is_(None))
        )
    assert unpublished == 0
    # Disjoint batches: no event was written to two committed files, even with three relays
    # racing (a commit that lost a race may leave an orphan file behind; the log ignores it and
    # vacuum removes it).
    files_rows = lake.query(
        "SELECT count(*) AS n FROM read_parquet(?, hive_partitioning=true)",
        [[str(f) for f in lake.files()]],
    )
    assert files_rows == [{"n": total}]


def test_purge_keeps_unpublished_and_recent_rows(
    engine: Engine, lake: EventLake, clock: ManualClock
) -> None:
    relay = OutboxRelay(engine, lake, clock=clock)
    with unit_of_work(engine) as session:
        emit(session, login("old"))
    relay.drain()
    clock.advance(timedelta(days=8))
    with unit_of_work(engine) as session:
        emit(session, login("recent"))
    relay.drain()
    with unit_of_work(engine) as session:
        emit(session, login("waiting"))
    assert relay.purge_published(timedelta(days=7)) == 1
    with unit_of_work(engine, write=False) as session:
        left = sorted(r.subject_id or "" for r in session.scalars(select(OutboxRow)))
    assert left == ["recent", "waiting"]
    assert lake.count() == 2  # the lake keeps what was published
