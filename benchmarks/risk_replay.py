"""Offline replay: every handbook transaction through features, the ML score and the rules.

Features are the exact sliding windows computed column-wise (numba kernels equal to the online
engine), the score is one batch LightGBM call, the rules are Polars expressions translated from
the rule language. Target: 50,000 events/s or more on the full 1.75 million transactions.

    .venv/bin/python benchmarks/risk_replay.py [--data-dir ../shared/datasets]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from finbridge.risk.backtest import replay_handbook
from finbridge.risk.decisions import default_config
from finbridge.risk.models import MODEL_FEATURES, load_default_model, load_handbook
from finbridge.risk.rules import CompiledRuleSet, FeatureCatalog, default_rule_set


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data-dir",
        default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"),
    )
    args = ap.parse_args()
    path = Path(args.data_dir) / "fraud" / "fdh_simulated_transactions_183d.parquet"
    catalog = FeatureCatalog.standard(default_config().feature_names())
    catalog.numeric |= set(MODEL_FEATURES)
    rules = CompiledRuleSet(default_rule_set(), catalog)
    model = load_default_model()
    t0 = time.perf_counter()
    frame = load_handbook(str(path))
    load_s = time.perf_counter() - t0
    # Warm the numba kernels on a small slice (compilation is cached on disk after the first run).
    replay_handbook(frame.head(5000), rules, model)
    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    result = replay_handbook(frame, rules, model)
    r = result.report
    print(
        json.dumps(
            {
                "events": result.events,
                "read_parquet_seconds": round(load_s, 2),
                "features_seconds": round(result.seconds_features, 2),
                "score_seconds": round(result.seconds_score, 2),
                "rules_seconds": round(result.seconds_rules, 2),
                "total_seconds": round(result.seconds, 2),
                "events_per_second": round(result.events_per_second),
                "target_events_per_second": 50_000,
                "model_version": model.version if model else None,
                "rule_set": r.rule_set,
                "outcomes": r.outcomes,
                "precision": round(r.precision, 4),
                "recall": round(r.recall, 4),
                "money_caught": str(r.money_caught),  # exact Decimal
                "customers_disturbed": r.customers_disturbed,
                "load_average_before": load_before,
                "load_average_after": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
