"""Consumer lag and back-pressure on JetStream (issue 19): the lag a slow durable consumer
builds while events keep arriving, and what the outbox relay does about it.

One SQLite database and Delta lake; the machine's NATS (``--nats``) with a stream of the
benchmark's own (named after its pid, deleted at the end). Three threads run at once for
``--seconds``:

- a producer commits ``--rate`` ``login`` events per second into the outbox (a batch every
  0.1 s, as the engines' transactions would);
- the relay publishes outbox batches to the stream (``OutboxRelay.run_once`` in a loop), and
  stops publishing while a watched consumer is more than ``--bound`` events behind
  (``stream.max_pending``): the back-pressure under test;
- three durable consumers apply what they are given: the real lake writer (Delta appends), a
  ledger-only consumer standing in for a fast engine, and a slow one that can apply at most
  ``--slow-rate`` events per second (a sleep per batch: an engine whose effect is expensive).

Every 0.5 s the sampler reads each consumer's lag from JetStream (pending + unacknowledged),
the outbox's unpublished rows, and whether the relay is paused. After the producer stops, the
run waits until every consumer has applied every event, then checks nothing was lost or
applied twice (each consumer's ledger and the lake hold exactly the events produced).

Run: ``.venv/bin/python benchmarks/cloud_lag.py [--rate 400 --seconds 20 --slow-rate 150
--bound 1000]``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from nats.aio.msg import Msg
from sqlalchemy import func, select

from finbridge.core import SystemClock
from finbridge.core.settings import StreamSettings
from finbridge.lake import Event, EventLake, emit
from finbridge.lake.stream import EventStream, StreamConsumer
from finbridge.lake.tables import StreamAppliedRow
from finbridge.platform._schema import upgrade_database
from finbridge.store.engine import make_engine, unit_of_work

# The ledger-only stand-in for an engine's consumer, as the relay benchmark uses it (this
# script's folder is on sys.path when it runs).
from cloud_relay import LedgerOnly  # isort: skip

T0 = datetime(2026, 11, 1, tzinfo=UTC)


class Throttled(StreamConsumer):
    """A consumer that spends ``len(batch) / rate`` seconds on each batch before storing it,
    outside the database transaction (SQLite has one writer: a sleep inside the ledger's
    transaction would hold up the producer and the relay, which is not what is measured)."""

    rate: float = 0.0

    def store(self, msgs: Sequence[Msg]) -> tuple[int, int]:
        time.sleep(len(msgs) / self.rate)
        return super().store(msgs)


@dataclass
class Sample:
    at: float
    behind: dict[str, int]
    outbox: int
    paused: bool


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rate", type=int, default=400, help="events produced per second")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--slow-rate", type=float, default=150, help="the slow consumer's events/s")
    ap.add_argument("--bound", type=int, default=1000, help="stream.max_pending")
    ap.add_argument("--nats", default="nats://127.0.0.1:4222")
    args = ap.parse_args()
    tag = f"lag{os.getpid()}"
    clock = SystemClock()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'finbridge.db'}")
        upgrade_database(engine)
        lake = EventLake(Path(tmp) / "lake")
        names = ("lake-writer", "fast", "slow")
        settings = StreamSettings(
            stream_name=tag.upper(), subject_prefix=f"{tag}.events",
            max_pending=args.bound, consumers=names,
        )  # fmt: skip
        stream = EventStream.build(
            args.nats, settings, engine, lake, clock,
            handlers=[LedgerOnly("fast"), LedgerOnly("slow")],
            batch_size=200,
        )  # fmt: skip
        produced = 0
        producing = threading.Event()
        producing.set()
        stop = threading.Event()

        def produce() -> None:
            nonlocal produced
            per_tick = max(1, args.rate // 10)
            start = time.perf_counter()
            tick = 0
            while time.perf_counter() - start < args.seconds:
                batch = [
                    Event("login", T0 + timedelta(milliseconds=produced + i),
                          {"method": "totp", "success": True}, "bench", f"c{(produced + i) % 500}")
                    for i in range(per_tick)
                ]  # fmt: skip
                with unit_of_work(engine) as session:
                    emit(session, *batch)
                produced += per_tick
                tick += 1
                time.sleep(max(0.0, start + tick * 0.1 - time.perf_counter()))
            producing.clear()

        def relay() -> None:
            while not stop.is_set():
                if stream.relay.run_once() == 0:
                    time.sleep(0.05)

        async def consume(done: asyncio.Event) -> None:
            consumers = [
                (Throttled if h.name == "slow" else StreamConsumer)(
                    stream.bus, engine, h, clock, batch_size=100
                )
                for h in stream.handlers.values()
            ]
            for c in consumers:
                if isinstance(c, Throttled):
                    c.rate = args.slow_rate
            await asyncio.gather(*(c.run(done, timeout=0.2) for c in consumers))

        loop_stop: asyncio.Event | None = None

        async def consume_until_stopped() -> None:
            nonlocal loop_stop
            loop_stop = asyncio.Event()
            await consume(loop_stop)

        def applied(name: str) -> int:
            with unit_of_work(engine, write=False) as s:
                return int(
                    s.scalar(
                        select(func.count()).where(StreamAppliedRow.consumer == name)
                    ) or 0
                )  # fmt: skip

        threads = [
            threading.Thread(target=produce, name="producer"),
            threading.Thread(target=relay, name="relay"),
            threading.Thread(target=lambda: stream.sink.run(consume_until_stopped(), 3600)),
        ]
        samples: list[Sample] = []
        started = time.perf_counter()
        for t in threads:
            t.start()
        produced_at = None
        try:
            while True:
                time.sleep(0.5)
                lag = {c.name: c.behind for c in stream.sink.lag()}
                now = time.perf_counter() - started
                samples.append(Sample(now, lag, stream.relay.pending(),
                                      stream.relay.paused is not None))  # fmt: skip
                if not producing.is_set() and produced_at is None:
                    produced_at = now
                if produced_at is not None and all(applied(n) >= produced for n in names):
                    break
                if now > args.seconds * 20 + 120:
                    raise SystemExit("the consumers did not catch up in time")
            caught_up = time.perf_counter() - started
        finally:
            stop.set()
            if loop_stop is not None:
                done = loop_stop

                async def halt() -> None:
                    done.set()

                stream.sink.run(halt(), 10)
            for t in threads:
                t.join(timeout=30)

        counts = {n: applied(n) for n in names}
        in_lake = lake.count()

        async def cleanup() -> None:
            js = await stream.bus.js()
            await js.delete_stream(settings.stream_name)

        stream.sink.run(cleanup(), 30)
        stream.close()
        engine.dispose()

    load = os.getloadavg()
    assert produced_at is not None
    paused = [s for s in samples if s.paused]
    print(f"produced: {produced:,} events in {args.seconds:.0f} s (asked {args.rate}/s); slow "
          f"consumer capped at {args.slow_rate:.0f}/s; max_pending {args.bound:,}")  # fmt: skip
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} (2-core shared box)")
    for n in names:
        peak = max(s.behind.get(n, 0) for s in samples)
        print(f"  {n:12s} peak lag {peak:7,d}   applied {counts[n]:,}")
    print(f"  outbox backlog peak {max(s.outbox for s in samples):,} unpublished rows")
    print(f"  relay paused in {len(paused)} of {len(samples)} samples "
          f"({len(paused) / len(samples):.0%}); first at "
          f"{paused[0].at if paused else float('nan'):.1f} s")  # fmt: skip
    print(f"  production ended at {produced_at:.1f} s; every consumer caught up at "
          f"{caught_up:.1f} s ({caught_up - produced_at:.1f} s after)")  # fmt: skip
    exact = in_lake == produced and all(c == produced for c in counts.values())
    print(f"  lake rows {in_lake:,}; lost or doubled: {'none' if exact else counts}")
    print("timeline (s, lag lake-writer/fast/slow, outbox, paused):")
    for s in samples[:: max(1, len(samples) // 16)]:
        lag = "/".join(str(s.behind.get(n, 0)) for n in names)
        print(f"  {s.at:6.1f}  {lag:>20s}  {s.outbox:6,d}  {'P' if s.paused else ''}")


if __name__ == "__main__":
    main()
