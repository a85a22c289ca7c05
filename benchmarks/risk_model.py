"""The fraud model on the fraud handbook's protocol, beside a logistic-regression baseline.

Train on 7 days from 2018-07-25, 7-day feedback delay, test on the following 7 days (known
compromised cards removed), as in the handbook's Chapter 3; prints AUC, average precision and
card precision@100 for both models and the handbook's published baselines.

    .venv/bin/python benchmarks/risk_model.py [--data-dir ../shared/datasets]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from finbridge.risk.models import handbook_benchmark, load_handbook, model_frame

HANDBOOK_CH3 = {"logistic_regression_auc": 0.871, "logistic_regression_cp100": 0.291,
                "random_forest_ap": 0.658}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--data-dir",
        default=str(Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"),
    )
    ap.add_argument("--rounds", type=int, default=400)
    args = ap.parse_args()
    path = Path(args.data_dir) / "fraud" / "fdh_simulated_transactions_183d.parquet"
    t0 = time.perf_counter()
    frame = model_frame(load_handbook(str(path)))
    t1 = time.perf_counter()
    model, metrics = handbook_benchmark(frame, rounds=args.rounds)
    t2 = time.perf_counter()
    gbm = metrics[1]
    print(
        json.dumps(
            {
                "rows": frame.height,
                "feature_seconds": round(t1 - t0, 1),
                "train_and_eval_seconds": round(t2 - t1, 1),
                "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                "model_version": model.version,
                "features": len(model.feature_names),
                "metrics": [m.to_json() for m in metrics],
                "handbook_chapter3_baselines": HANDBOOK_CH3,
                "beats_baselines": gbm.auc > 0.871
                and gbm.average_precision > 0.658
                and gbm.card_precision_100 > 0.291,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
