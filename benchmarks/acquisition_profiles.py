"""Profiles from the lake: the Ibis engagement sums (DuckDB) for N customers x 10 events, full
build, CPU and wall time; with ``--old DIR`` also the previous path (one DuckDB SELECT of the
raw events, then Polars) for comparison, and the two results checked equal.

``--old`` takes a folder holding ``old_profiles.py``, the module as of commit cd5e669:
``git show cd5e669:src/finbridge/acquisition/profiles.py > DIR/old_profiles.py``.

Run: ``.venv/bin/python benchmarks/acquisition_profiles.py [--customers 20000] [--old DIR]``
"""

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from finbridge.acquisition.engagement import sums_of
from finbridge.acquisition.profiles import states_from_sums
from finbridge.lake import Event, EventLake

parser = argparse.ArgumentParser()
parser.add_argument("--customers", type=int, default=20_000)
parser.add_argument("--old")
args = parser.parse_args()
N = args.customers
PER = 10
rng = random.Random(3)
until = datetime(2020, 12, 3, tzinfo=UTC)
lake = EventLake(Path(tempfile.mkdtemp()) / "lake")
kinds = ["news.read", "app.opened", "acquisition.opened"]
events = []
for c in range(N):
    for k in range(PER):
        at = until - timedelta(minutes=rng.randrange(1, 60 * 24 * 30))
        kind = rng.choice(kinds)
        payload = (
            {"article_id": f"a{c}-{k}", "title": "基金净值走高 沪指收涨"}
            if kind == "news.read"
            else {}
        )
        events.append(Event(kind, at, payload, "bench", f"c{c:06d}"))
for i in range(0, len(events), 50_000):
    lake.append(events[i : i + 50_000], batch=f"b{i}")
ids = [f"c{c:06d}" for c in range(N)]


def run(label, f):
    w = time.perf_counter()
    c = time.process_time()
    out = f()
    wall, cpu = time.perf_counter() - w, time.process_time() - c
    load = os.getloadavg()[0]
    print(f"{label}: {len(out)} profiles, wall {wall:.2f} s, CPU {cpu:.2f} s, load {load:.1f}")
    return out


def new_path() -> dict:
    return states_from_sums(sums_of(lake, ids, until), until, "Asia/Shanghai")


if args.old is None:
    run("Ibis sums, Polars placing", new_path)
    run("again", new_path)
    print(f"events {len(events):,}; {time.strftime('%H:%M', time.gmtime())} UTC")
    sys.exit(0)
sys.path.insert(0, args.old)
import old_profiles  # noqa: E402


def old_path() -> dict:
    raw = old_profiles.read_engagement(lake, since=None, until=until, subjects=ids)
    return old_profiles.build_states(raw, until, "Asia/Shanghai")


old = run("old (one SELECT, Polars)", old_path)
new = run("new (Ibis sums, Polars placing)", new_path)
old = run("old again", old_path)
new = run("new again", new_path)
worst = max(
    float(np.abs(old[k].engagement - new[k].engagement).max() / max(old[k].engagement.max(), 1e-12))
    for k in ids
)
same_min = all(old[k].first_minute == new[k].first_minute for k in ids)
stamp = time.strftime("%H:%M", time.gmtime())
print(f"events {len(events):,}; worst relative engagement gap {worst:.2e}")
print(f"first minutes equal: {same_min}; {stamp} UTC")
