"""What seeding the demo's simulated reading through the outbox costs against writing the lake
directly (issue 19): the demo's acquisition step now records its ``news.read`` events in the
outbox and relays them, as an engine's events travel.

Each round seeds ``--events`` events (the demo's 300 readers over 14 days make about 2,500) into a
fresh SQLite database and Delta lake both ways, alternating which goes first; the figure is the
process CPU time of each (it survives the shared machine's load better than wall time), with the
wall time beside it and the 1-minute load average before and after.

Run: ``.venv/bin/python benchmarks/cloud_demo_outbox.py [--events 2500 --rounds 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from finbridge.core import ManualClock, Principal
from finbridge.core.clock import SystemClock
from finbridge.lake import Event, EventLake, EventService
from finbridge.platform._schema import upgrade_database
from finbridge.store.engine import make_engine

ACTOR = Principal.system("bench")
NOW = SystemClock().now().replace(microsecond=0)  # freshness checks want recent events


def _events(n: int) -> list[Event]:
    return [
        Event(
            "news.read",
            NOW - timedelta(days=1 + k % 14, minutes=k % 600),
            {"article_id": f"bench-{k}", "title": "Markets open higher"},
            "demo-sim",
            f"c{k % 300}",
        )
        for k in range(n)
    ]


def _service(root: Path) -> EventService:
    engine = make_engine(f"sqlite:///{root / 'finbridge.db'}")
    upgrade_database(engine)
    clock = ManualClock(NOW)
    return EventService(engine, EventLake(root / "lake", clock=clock), clock)


def direct(service: EventService, events: list[Event]) -> None:
    service.lake.append(events, batch="demo-acquisition")


def outbox(service: EventService, events: list[Event]) -> None:
    service.record(ACTOR, events)
    service.relay(ACTOR)


def _timed(way: Callable[[EventService, list[Event]], None], n: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory(prefix="finbridge-demo-outbox-") as tmp:
        service = _service(Path(tmp))
        events = _events(n)
        cpu, wall = time.process_time(), time.perf_counter()
        way(service, events)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        assert service.lake.count() == n, "every event reached the lake"
        service.engine.dispose()
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2_500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"{SystemClock().now():%Y-%m-%d %H:%M} UTC, load average before: {os.getloadavg()}")
    _timed(direct, 100)  # imports and first-use costs out of the figures
    _timed(outbox, 100)
    got: dict[str, list[tuple[float, float]]] = {"direct": [], "outbox": []}
    for r in range(args.rounds):
        order = [("direct", direct), ("outbox", outbox)]
        for name, way in order if r % 2 == 0 else reversed(order):
            got[name].append(_timed(way, args.events))
    for name, runs in got.items():
        cpu = statistics.median(c for c, _ in runs)
        wall = statistics.median(w for _, w in runs)
        print(f"{name}: {args.events:,} events, CPU {cpu:.2f} s, wall {wall:.2f} s (median)")
    ratio = statistics.median(c for c, _ in got["outbox"]) / statistics.median(
        c for c, _ in got["direct"]
    )
    print(f"outbox / direct CPU: {ratio:.2f}; load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
