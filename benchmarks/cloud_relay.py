"""Relay to JetStream (issue 19): events/s published and consumed by 3 durable consumers, beside
today's Parquet-only relay, measured in the same run on the same outbox contents.

A fresh SQLite database per path holds N ``login`` events in the outbox. Timed:

- ``parquet``: ``OutboxRelay.drain()`` straight into the Parquet lake (today's default path);
- ``jetstream publish``: the same drain into the JetStream stream (acks awaited, rows marked),
  and, to show where that time goes, the same events published with no outbox around them;
- ``jetstream consume``: three durable consumers at once on the bus loop (the lake writer, and
  two more that store only their applied-event ledger rows, standing in for risk velocity and
  acquisition profiles) until each has applied all N; and the end-to-end time publish + consume.

NATS is the machine's server (``--nats``, default nats://127.0.0.1:4222); the benchmark uses a
stream and subjects of its own (named after its pid) and deletes them at the end.

Run: ``.venv/bin/python benchmarks/cloud_relay.py [--events 20000]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from finbridge.core import Principal, SystemClock
from finbridge.core.settings import StreamSettings
from finbridge.lake import Event, EventLake, OutboxRelay, emit
from finbridge.lake.stream import EventStream, JetStreamBus, StreamConsumer
from finbridge.platform._schema import upgrade_database
from finbridge.store.engine import make_engine, unit_of_work

T0 = datetime(2026, 11, 1, tzinfo=UTC)
SYSTEM = Principal.system("bench")


class LedgerOnly:
    """A consumer whose effect is its ledger rows (what the engines' consumers add to)."""

    event_types: tuple[str, ...] = ()

    def __init__(self, name: str) -> None:
        self.name = name

    def apply(self, session: Session, events: Sequence[Event]) -> None:
        return None


def fresh(root: Path, n: int):  # type: ignore[no-untyped-def]
    root.mkdir()
    engine = make_engine(f"sqlite:///{root / 'finbridge.db'}")
    upgrade_database(engine)
    events = [
        Event(
            "login",
            T0 + timedelta(seconds=i),
            {"method": "totp", "success": True},
            "bench",
            f"c{i % 5000}",
        )
        for i in range(n)
    ]
    with unit_of_work(engine) as session:
        for i in range(0, n, 5000):
            emit(session, *events[i : i + 5000])
    return engine, EventLake(root / "lake")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--nats", default="nats://127.0.0.1:4222")
    args = ap.parse_args()
    n = args.events
    tag = f"bench{os.getpid()}"
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        engine, lake = fresh(Path(tmp) / "parquet", n)
        t = time.perf_counter()
        assert OutboxRelay(engine, lake, clock=clock, batch_size=2000).drain().published == n
        parquet = time.perf_counter() - t
        engine.dispose()

        engine, lake = fresh(Path(tmp) / "bus", n)
        settings = StreamSettings(
            stream_name=tag.upper(),
            subject_prefix=f"{tag}.events",
            max_pending=10 * n,
            consumers=("lake-writer", "risk-velocity", "acquisition-profiles"),
        )
        stream = EventStream.build(
            args.nats,
            settings,
            engine,
            lake,
            clock,
            handlers=[LedgerOnly("risk-velocity"), LedgerOnly("acquisition-profiles")],
        )
        try:
            t = time.perf_counter()
            assert stream.relay.drain().published == n
            publish = time.perf_counter() - t

            async def consume_all() -> None:
                consumers = [
                    StreamConsumer(stream.bus, engine, h, clock, batch_size=1000)
                    for h in stream.handlers.values()
                ]
                done = await asyncio.gather(*(c.drain(timeout=0.5) for c in consumers))
                assert all(d.applied == n for d in done), done

            t = time.perf_counter()
            stream.sink.run(consume_all(), 3600)
            consume = time.perf_counter() - t
            assert lake.count() == n

            # Where the relay's time goes: the same events published with no outbox around them
            # (a second stream, so JetStream's de-duplication does not drop them).
            bare = settings.model_copy(
                update={"stream_name": f"{tag.upper()}_BARE", "subject_prefix": f"{tag}.bare"}
            )
            bare_bus = JetStreamBus(args.nats, bare)
            events = [e.event for e in stream.replay(SYSTEM, T0 - timedelta(days=1)).events]
            assert len(events) == n

            async def publish_bare() -> float:
                await bare_bus.js()
                start = time.perf_counter()
                for i in range(0, n, 2000):
                    await bare_bus.publish(events[i : i + 2000])
                took = time.perf_counter() - start
                await (await bare_bus.js()).delete_stream(bare.stream_name)
                await bare_bus.close()
                return took

            bare_publish = stream.sink.run(publish_bare(), 3600)

            async def cleanup() -> None:
                js = await stream.bus.js()
                await js.delete_stream(settings.stream_name)

            stream.sink.run(cleanup(), 30)
        finally:
            stream.close()
            engine.dispose()
    load = os.getloadavg()
    print(f"events: {n:,} login events in a SQLite outbox; 2-core shared box")
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"parquet-only relay:        {parquet:7.2f} s  {n / parquet:9,.0f} events/s")
    print(f"jetstream publish:         {publish:7.2f} s  {n / publish:9,.0f} events/s")
    print(f"  of which bus publish:    {bare_publish:7.2f} s  {n / bare_publish:9,.0f} events/s")
    print(f"jetstream 3 consumers:     {consume:7.2f} s  {3 * n / consume:9,.0f} deliveries/s")
    end = publish + consume
    print(f"jetstream end to end:      {end:7.2f} s  {n / end:9,.0f} events/s")
    print(f"ratio publish / parquet-only (events/s): {parquet / publish:.2f}")
    print(f"ratio end-to-end / parquet-only (events/s): {parquet / end:.2f}")


if __name__ == "__main__":
    main()
