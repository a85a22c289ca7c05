"""Micro-benchmark: CPU per event of the in-process velocity windows (`InProcessVelocity`).

Events come from the fraud handbook the other risk benchmarks read (customer and terminal from the
data; device, IP, card and payee derived from the customer the way ``risk_online.py`` does), over
the platform's default windows (6 entity types, 20 windows, 142 features). Each round feeds a
fresh store ``--warm`` events untimed (so windows hold history), then times ``--events`` events by
process CPU time. With ``--old PATH`` (a ``git archive`` of an older ``src``), the old module runs
in the same process, alternating round by round, and every feature of both is compared bit for bit.

    .venv/bin/python benchmarks/risk_velocity.py [--old /tmp/old/src] [--rounds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

from finbridge.risk.decisions import _velocity as new_velocity
from finbridge.risk.decisions._velocity import VelocityEvent, default_config


def load_events(path: Path, n: int, seed: int = 5) -> list[VelocityEvent]:
    columns = ["TRANSACTION_ID", "CUSTOMER_ID", "TERMINAL_ID", "TX_AMOUNT", "TX_TIME_SECONDS"]
    df = pl.read_parquet(path, columns=columns).sort("TRANSACTION_ID").head(n)
    ts0 = 1_700_000_000_000
    rng = random.Random(seed)
    out = []
    for i, (tx, c, t, amount, sec) in enumerate(df.iter_rows()):
        keys = {
            "customer": f"c{c}",
            "device": f"d{c if rng.random() < 0.95 else rng.randint(1, 9000)}",
            "ip": f"10.{c % 250}.{rng.randint(0, 3)}.{rng.randint(1, 250)}",
            "card": f"k{c}",
            "terminal": f"t{t}",
        }
        if rng.random() < 0.2:
            keys["payee"] = f"p{rng.randint(1, 20000)}"
        attrs = {"customer": keys["customer"], "device": keys["device"]}
        if "payee" in keys:
            attrs["payee"] = keys["payee"]
        out.append(
            VelocityEvent(
                event_id=f"tx{tx}",
                ts_ms=ts0 + sec * 1000 + i % 1000,
                amount_minor=round(amount * 100),
                keys=keys,
                attrs=attrs,
            )
        )
    return out


def load_old(src: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        "old_velocity", Path(src) / "finbridge" / "risk" / "decisions" / "_velocity.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["old_velocity"] = module
    spec.loader.exec_module(module)
    return module


def run(module: Any, warm: list[VelocityEvent], timed: list[VelocityEvent]) -> float:
    """CPU microseconds per event over ``timed``, after ``warm`` untimed (results not kept, so
    the collector walks no growing list of feature dicts)."""
    store = module.InProcessVelocity(module.default_config())
    for ev in warm:
        store.observe(ev)
    t0 = time.process_time()
    for ev in timed:
        store.observe(ev)
    return (time.process_time() - t0) / len(timed) * 1e6


def same_features(old: Any, events: list[VelocityEvent]) -> int:
    """Both stores fed the same events; how many events gave different features (bit for bit:
    the floats' exact values and the same 142 names)."""
    a = old.InProcessVelocity(old.default_config())
    b = new_velocity.InProcessVelocity(default_config())
    differ = 0
    for ev in events:
        fa, fb = a.observe(ev), b.observe(ev)
        if fa.keys() != fb.keys() or any(fa[k].hex() != fb[k].hex() for k in fa):
            differ += 1
    return differ


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data-dir",
        default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"),
    )
    ap.add_argument("--old", help="src directory of the old code (git archive)")
    ap.add_argument("--warm", type=int, default=20_000)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    events = load_events(
        Path(args.data_dir) / "fraud" / "fdh_simulated_transactions_183d.parquet",
        args.warm + args.events,
    )
    warm, timed = events[: args.warm], events[args.warm :]
    impls: dict[str, Any] = {"new": new_velocity}
    if args.old:
        impls["old"] = load_old(args.old)
    run(new_velocity, warm[:100], timed[:100])  # compile (or load) the kernel before timing
    for r in range(args.rounds):
        for name in list(impls) if r % 2 == 0 else list(reversed(impls)):
            load = os.getloadavg()[0]
            us = run(impls[name], warm, timed)
            utc = time.strftime("%H:%M:%S", time.gmtime())
            print(json.dumps({"round": r, "impl": name, "cpu_us_per_event": round(us, 1),
                              "load_1m": round(load, 2), "utc": utc}), flush=True)  # fmt: skip
    summary: dict[str, Any] = {
        "events_timed": len(timed),
        "events_warm": len(warm),
        "features": len(default_config().feature_names()),
    }
    if args.old:
        summary["events_with_different_features"] = same_features(impls["old"], events)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
