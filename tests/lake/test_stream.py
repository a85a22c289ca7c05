"""The event stream on a real NATS JetStream (a private server per test): the outbox relay
publishes with the event id as message id, durable consumers apply each event once, replay
starts by time, back-pressure pauses the relay, and NATS going away loses nothing."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, update
from sqlalchemy.orm import Session
from tests.nats_support import NatsServer

from finbridge.core import ManualClock, Principal
from finbridge.core.errors import PermissionDenied, ServiceUnavailable, ValidationError
from finbridge.core.settings import StreamSettings
from finbridge.lake import Event, EventLake, emit
from finbridge.lake.stream import EventStream, StreamConsumer, ack
from finbridge.lake.tables import OutboxRow, StreamAppliedRow
from finbridge.store import unit_of_work

from .conftest import T0
from .test_relay import login

ADMIN = Principal.system("test")
FAST = StreamSettings(ack_wait_seconds=1, publish_timeout_seconds=1)


def emit_logins(engine: Engine, n: int, start: int = 0) -> list[Event]:
    events = [login(f"c{i}", i) for i in range(start, start + n)]
    with unit_of_work(engine) as session:
        emit(session, *events)
    return events


class Counting:
    """A handler that records each event id it is given: the effect we count."""

    name = "counting"
    event_types: tuple[str, ...] = ("login",)

    def __init__(self) -> None:
        self.seen: list[str] = []

    def apply(self, session: Session, events: Sequence[Event]) -> None:
        self.seen.extend(e.event_id for e in events)


def make_stream(
    server: NatsServer,
    engine: Engine,
    lake: EventLake,
    clock: ManualClock,
    settings: StreamSettings = FAST,
    handlers: Sequence[Counting] = (),
) -> EventStream:
    return EventStream.build(server.url, settings, engine, lake, clock, handlers=handlers)


@pytest.fixture
def stream(
    nats_server: NatsServer, sqlite_engine: Engine, lake: EventLake, clock: ManualClock
) -> Iterator[EventStream]:
    s = make_stream(nats_server, sqlite_engine, lake, clock, handlers=[Counting()])
    yield s
    s.close()


def unpublished(engine: Engine) -> int:
    with unit_of_work(engine, write=False) as session:
        return len(session.scalars(select(OutboxRow).where(OutboxRow.published_at.is_(None))).all())


def test_relay_publishes_by_event_id_and_the_lake_writer_feeds_the_lake(
    nats_server: NatsServer, engine: Engine, lake: EventLake, clock: ManualClock
) -> None:
    stream = make_stream(nats_server, engine, lake, clock)
    try:
        events = emit_logins(engine, 5)
        result = stream.relay.drain()
        assert (result.published, result.refused, result.paused) == (5, 0, None)
        assert unpublished(engine) == 0
        assert stream.status(ADMIN).stream["messages"] == 5
        # The same rows published again (a relay that crashed before marking them): JetStream
        # drops them as duplicates of the same message ids.
        with unit_of_work(engine) as session:
            session.execute(update(OutboxRow).values(published_at=None))
        assert stream.relay.drain().published == 5
        assert stream.status(ADMIN).stream["messages"] == 5
        consumed = stream.consume(ADMIN, "lake-writer")
        assert consumed.applied == 5  # delivered may be more: a slow batch is redelivered
        assert sorted(e.event_id for e in lake.events()) == sorted(e.event_id for e in events)
        assert stream.consume(ADMIN, "lake-writer").delivered == 0
    finally:
        stream.close()


def test_a_consumer_killed_before_its_commit_or_its_acks_loses_nothing_and_applies_once(
    stream: EventStream, sqlite_engine: Engine
) -> None:
    events = emit_logins(sqlite_engine, 6)
    stream.relay.drain()
    handler = stream.handler("counting")
    assert isinstance(handler, Counting)

    async def killed_before_commit() -> None:
        consumer = StreamConsumer(stream.bus, sqlite_engine, handler, stream.clock, batch_size=3)
        assert len(await consumer.fetch()) == 3  # delivered, then the process dies

    async def killed_after_commit() -> None:
        consumer = StreamConsumer(stream.bus, sqlite_engine, handler, stream.clock, batch_size=3)
        msgs = await consumer.fetch()
        assert len(msgs) == 3
        await asyncio.to_thread(consumer.store, msgs)  # the effect is stored; no ack follows

    stream.sink.run(killed_before_commit(), 10)
    stream.sink.run(killed_after_commit(), 10)
    assert len(handler.seen) == 3
    time.sleep(FAST.ack_wait_seconds + 0.3)  # JetStream redelivers what was never acknowledged
    result = stream.consume(ADMIN, "counting")
    assert result.applied == 3  # the ones stored before the kill are skipped: no second effect
    assert result.skipped >= 3
    assert sorted(handler.seen) == sorted(e.event_id for e in events)


def test_a_consumer_task_cancelled_mid_stream_resumes_without_loss(
    stream: EventStream, sqlite_engine: Engine
) -> None:
    events = emit_logins(sqlite_engine, 20)
    stream.relay.drain()
    handler = stream.handler("counting")
    assert isinstance(handler, Counting)

    async def cancelled() -> None:
        consumer = StreamConsumer(stream.bus, sqlite_engine, handler, stream.clock, batch_size=5)
        stop = asyncio.Event()
        task = asyncio.create_task(consumer.run(stop))
        while len(handler.seen) < 5:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    stream.sink.run(cancelled(), 20)
    assert 5 <= len(handler.seen) < 20
    time.sleep(FAST.ack_wait_seconds + 0.3)
    stream.consume(ADMIN, "counting")
    assert sorted(handler.seen) == sorted(e.event_id for e in events)


def test_acknowledging_twice_is_harmless(stream: EventStream, sqlite_engine: Engine) -> None:
    emit_logins(sqlite_engine, 2)
    stream.relay.drain()
    handler = stream.handler("counting")

    async def twice() -> int:
        consumer = StreamConsumer(stream.bus, sqlite_engine, handler, stream.clock)
        msgs = await consumer.fetch()
        await asyncio.to_thread(consumer.store, msgs)
        for m in msgs:
            await ack(m)
            await ack(m)
        return len(msgs)

    assert stream.sink.run(twice(), 10) == 2
    time.sleep(FAST.ack_wait_seconds + 0.3)
    assert stream.consume(ADMIN, "counting").delivered == 0  # nothing redelivered
    lag = {c.name: c for c in stream.status(ADMIN).consumers}
    assert lag["counting"].behind == 0


def test_nats_going_away_keeps_everything_in_the_outbox_and_the_relay_catches_up(
    nats_server: NatsServer, engine: Engine, lake: EventLake, clock: ManualClock
) -> None:
    stream = make_stream(nats_server, engine, lake, clock)
    try:
        emit_logins(engine, 3)
        assert stream.relay.drain().published == 3
        nats_server.stop()
        late = emit_logins(engine, 4, start=3)
        with pytest.raises(ServiceUnavailable, match="event bus"):
            stream.relay.drain()
        assert unpublished(engine) == 4
        assert stream.relay.pending() == 4
        nats_server.start()
        assert stream.relay.drain().published == 4
        assert unpublished(engine) == 0
        assert stream.status(ADMIN).stream["messages"] == 7  # the store survived the restart
        stream.consume(ADMIN, "lake-writer")
        assert {e.event_id for e in late} <= {e.event_id for e in lake.events()}
        assert lake.count() == 7
    finally:
        stream.close()


def test_an_unknown_event_type_is_refused_at_publish_and_kept_flagged(
    stream: EventStream, sqlite_engine: Engine
) -> None:
    good = emit_logins(sqlite_engine, 1)[0]
    with unit_of_work(sqlite_engine) as session:  # written by a process that knew a schema
        session.execute(
            insert(OutboxRow),
            [
                {
                    "event_id": f"00000000-0000-4000-8000-00000000000{i}",
                    "event_type": t,
                    "schema_version": v,
                    "occurred_at": T0,
                    "source": "test",
                    "payload": {},
                }
                for i, (t, v) in enumerate([("mystery.thing", 1), ("login", 9)])
            ],
        )
    result = stream.relay.drain()
    assert (result.published, result.refused) == (1, 2)
    refused = {t: why for _, t, why in stream.relay.refused_rows()}
    assert "unknown event type" in refused["mystery.thing"]
    assert "no schema version 9" in refused["login"]
    assert stream.relay.pending() == 0  # refused rows do not block the relay
    assert unpublished(sqlite_engine) == 2  # nor are they lost
    assert stream.relay.drain().refused == 0  # flagged once, not retried in a loop
    assert stream.status(ADMIN).stream["messages"] == 1
    assert stream.replay(ADMIN, T0 - timedelta(days=3650)).events[0].event.event_id == good.event_id


def test_replay_from_a_time_delivers_exactly_the_events_after_it(
    stream: EventStream, sqlite_engine: Engine
) -> None:
    first = emit_logins(sqlite_engine, 3)
    stream.relay.drain()
    everything = stream.replay(ADMIN, T0 - timedelta(days=3650))
    assert [s.event.event_id for s in everything.events] == [e.event_id for e in first]
    # The stream's own clock decides (the server's, not this process's, which tests may fake).
    mark = everything.events[-1].stored_at + timedelta(microseconds=1)
    time.sleep(0.01)
    later = emit_logins(sqlite_engine, 2, start=3)
    stream.relay.drain()
    replay = stream.replay(ADMIN, mark, into="counting")
    assert [s.event.event_id for s in replay.events] == [e.event_id for e in later]
    assert (replay.applied, replay.skipped, replay.counts()) == (2, 0, {"login": 2})
    again = stream.replay(ADMIN, mark, into="counting")
    assert (again.applied, again.skipped) == (0, 2)  # replay never doubles an effect
    with unit_of_work(sqlite_engine, write=False) as session:
        assert len(session.scalars(select(StreamAppliedRow)).all()) == 2


def test_replay_refuses_bad_input_and_needs_admin(stream: EventStream) -> None:
    with pytest.raises(ValidationError, match="offset"):
        stream.replay(ADMIN, T0.replace(tzinfo=None))
    with pytest.raises(Exception, match="no stream consumer 'nope'"):
        stream.replay(ADMIN, T0, into="nope")
    with pytest.raises(ValidationError, match="cannot name a stream subject"):
        stream.replay(ADMIN, T0, event_types=["bad type>"])
    with pytest.raises(PermissionDenied):
        stream.replay(Principal.customer("c1"), T0)


def test_the_relay_pauses_while_a_consumer_lags_and_resumes_when_it_drains(
    nats_server: NatsServer, sqlite_engine: Engine, lake: EventLake, clock: ManualClock
) -> None:
    settings = FAST.model_copy(update={"max_pending": 3, "consumers": ("lake-writer",)})
    stream = make_stream(nats_server, sqlite_engine, lake, clock, settings)
    try:
        stream.sink.run(stream.bus.durable("lake-writer"), 10)  # the consumer exists, idle
        emit_logins(sqlite_engine, 4)
        assert stream.relay.drain().published == 4
        emit_logins(sqlite_engine, 2, start=4)
        held = stream.relay.drain()
        assert held.published == 0
        assert held.paused is not None and "lake-writer has 4 pending (bound 3)" in held.paused
        assert stream.relay.pending() == 2
        stream.consume(ADMIN, "lake-writer")
        resumed = stream.relay.drain()
        assert (resumed.published, resumed.paused) == (2, None)
    finally:
        stream.close()


def test_no_bus_configured_keeps_todays_path(tmp_path: Path) -> None:
    from finbridge.core.settings import Settings
    from finbridge.lake.stream import JetStreamBus

    assert Settings(data_dir=tmp_path).event_bus is None
    with_password = Settings(data_dir=tmp_path, event_bus="nats://relay:s3cret@nats.internal:4222")
    assert "s3cret" not in str(with_password.masked())
    bus = JetStreamBus("nats://relay:s3cret@nats.internal:4222", StreamSettings())
    assert bus.shown_url == "nats://**********@nats.internal:4222"
    with pytest.raises(ValueError, match="event_bus"):
        Settings(data_dir=tmp_path, event_bus="http://127.0.0.1:4222")
