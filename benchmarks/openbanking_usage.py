"""Per-app usage counting (issue 18): what counting costs one ``/open-banking/v1`` call.

Ours: ``UsageMeter.count`` (an in-process counter under a lock) with the batch written by a
flush every 5 s; its peer, measured in the same run on the same database: one upsert per call
(``INSERT ... ON CONFLICT DO UPDATE calls = calls + 1`` in its own transaction), the simplest
correct alternative. Both on a migrated SQLite file (WAL) and on PostgreSQL. Calls spread over
3 apps x 6 resources x 3 outcomes; each figure is the median of 5 rounds of ``--calls`` calls.

Run: ``.venv/bin/python benchmarks/openbanking_usage.py [--calls 2000] [--pg URL]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text

from finbridge.core.clock import ManualClock
from finbridge.openbanking.usage import UsageMeter
from finbridge.platform import upgrade_database
from finbridge.store.engine import make_engine, unit_of_work

KEYS = [
    (f"app-{a}", r, o)
    for a in range(3)
    for r in (
        "accounts",
        "balances",
        "transactions",
        "payment_initiation",
        "payment_status",
        "consent",
    )
    for o in ("served", "refused:invalid_token", "rate_limited")
]
UPSERT = text(
    "INSERT INTO openbanking_usage (client_id, day, resource, outcome, calls) "
    "VALUES (:c, :d, :r, :o, 1) ON CONFLICT (client_id, day, resource, outcome) "
    "DO UPDATE SET calls = openbanking_usage.calls + 1"
)


def bench(url: str, calls: int) -> tuple[float, float, float]:
    """(ours per call, ours' flush of a full batch, one upsert per call), microseconds/ms."""
    engine = make_engine(url)
    upgrade_database(engine)
    clock = ManualClock(datetime(2026, 12, 6, 12, tzinfo=UTC))
    meter = UsageMeter(engine, clock, business_timezone="Asia/Shanghai", flush_seconds=3600)
    day = clock.now().date()
    ours, flushes, peer = [], [], []
    for _ in range(5):
        start = time.perf_counter()
        for i in range(calls):
            meter.count(*KEYS[i % len(KEYS)])
        ours.append((time.perf_counter() - start) / calls * 1e6)
        start = time.perf_counter()
        meter.flush()
        flushes.append((time.perf_counter() - start) * 1e3)
        start = time.perf_counter()
        for i in range(calls):
            c, r, o = KEYS[i % len(KEYS)]
            with unit_of_work(engine) as session:
                session.execute(UPSERT, {"c": c, "d": day, "r": r, "o": o})
        peer.append((time.perf_counter() - start) / calls * 1e6)
    engine.dispose()
    return statistics.median(ours), statistics.median(flushes), statistics.median(peer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        targets = [("sqlite", f"sqlite:///{Path(tmp) / 'bench.db'}")]
        admin = make_engine(args.pg)
        name = f"finbridge_bench_usage_{os.getpid()}"
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        targets.append(("postgresql", args.pg.rsplit("/", 1)[0] + f"/{name}"))
        try:
            for label, url in targets:
                ours, flush, peer = bench(url, args.calls)
                print(
                    f"{label:10} count: {ours:8.2f} us/call   flush of {len(KEYS)} rows: "
                    f"{flush:7.2f} ms   upsert per call: {peer:8.1f} us/call   "
                    f"ratio upsert/count: {peer / ours:7.0f}x"
                )
        finally:
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
