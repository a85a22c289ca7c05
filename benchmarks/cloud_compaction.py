"""Query time on a lake of many small appends, before and after ``optimize`` (issue 19).

Builds a lake from N small batches (as a relay running every few seconds writes it), runs the
same queries before and after compaction in the same run, and prints the gain. Also times a
small-batch append on the Delta path against the old hand-managed Parquet writer (kept in
``finbridge.lake.legacy``) in the same run: the lake is used by many tests, so its appends must
stay cheap.

    .venv/bin/python benchmarks/cloud_compaction.py [--batches 400] [--per-batch 25]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from finbridge.lake import Event, EventLake
from finbridge.lake.legacy import write_legacy_batch

T0 = datetime(2026, 11, 1, tzinfo=UTC)
QUERIES = {
    "counts by type and day": "SELECT event_type, date, count(*) FROM events GROUP BY ALL",
    "one customer's logins": "SELECT count(*) FROM events WHERE event_type = 'login'"
    " AND subject_id = 'c7'",
}


def _events(batch: int, n: int) -> list[Event]:
    out = []
    for i in range(n):
        at = T0 + timedelta(days=batch % 7, seconds=batch * 97 + i)
        subject = f"c{(batch * n + i) % 500}"
        if i % 2:
            payload = {"method": "totp", "success": True}
            out.append(Event("login", at, payload, "bench", subject).validated())
        else:
            payload = {"app_version": "1.0", "platform": "ios"}
            out.append(Event("app.opened", at, payload, "bench", subject).validated())
    return out


def _best(fn: Callable[[], object], repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--per-batch", type=int, default=25)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        lake = EventLake(Path(tmp) / "delta")
        legacy_root = Path(tmp) / "legacy"
        batches = [_events(b, args.per_batch) for b in range(args.batches)]
        delta_times, legacy_times = [], []
        for b, events in enumerate(batches):  # interleaved, so both see the same load
            start = time.perf_counter()
            lake.append(events, batch=f"b{b}")
            delta_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            write_legacy_batch(legacy_root, events, batch=f"b{b}")
            legacy_times.append(time.perf_counter() - start)
        d_ms, l_ms = statistics.median(delta_times) * 1e3, statistics.median(legacy_times) * 1e3
        print(
            f"append of {args.per_batch} events (median of {args.batches}): Delta {d_ms:.1f} ms,"
            f" old Parquet path {l_ms:.1f} ms, ratio {d_ms / l_ms:.2f}x"
        )
        files_before = len(lake.files())
        before = {name: _best(lambda sql=sql: lake.query(sql)) for name, sql in QUERIES.items()}
        start = time.perf_counter()
        metrics = lake.optimize()
        optimize_s = time.perf_counter() - start
        files_after = len(lake.files())
        after = {name: _best(lambda sql=sql: lake.query(sql)) for name, sql in QUERIES.items()}
        print(
            f"{args.batches * args.per_batch} events; files {files_before} -> {files_after}"
            f" (optimize {optimize_s:.2f} s, removed {metrics['numFilesRemoved']})"
        )
        for name in QUERIES:
            print(
                f"{name}: before {before[name] * 1e3:.1f} ms, after {after[name] * 1e3:.1f} ms,"
                f" gain {before[name] / after[name]:.1f}x"
            )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
