"""Response and uplift models on the full public data, with the uplift libraries as peers.

Response: UCI bank-full (45,211 rows), stratified 60/20/20 split (train / calibration / test);
our calibrated LightGBM vs a logistic regression and a default LightGBM (``duration`` dropped as
leakage). Uplift: Hillstrom (64,000 rows; any e-mail vs none; outcome ``visit``), stratified
50/25/25 split (train / validation / test); ours (two-model, class transformation, uplift
forest) beside scikit-uplift's TwoModels and ClassTransformation (on the same LightGBM settings)
and causalml's UpliftRandomForestClassifier and UpliftTreeClassifier, all fitted on the same
train rows and scored with the same Qini / AUUC / uplift@30% code on the same test rows;
scikit-uplift's own ``qini_auc_score`` (normalised by the perfect curve) is printed beside ours
as a cross-check. Ours is chosen by validation Qini, as the product does.

Run: ``.venv/bin/python benchmarks/acquisition_models.py [--data-dir ../shared/datasets/marketing]``
(peers from ``pip install -e '.[bench]'``)
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from finbridge.acquisition.response import evaluate_response, load_bank_marketing
from finbridge.acquisition.uplift import (
    _LGBM,
    SEED,
    UpliftScores,
    default_learners,
    load_hillstrom,
    split_uplift,
)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT / ".." / "shared" / "datasets" / "marketing"


def peers() -> dict[str, Any]:
    import lightgbm as lgb
    from causalml.inference.tree import UpliftRandomForestClassifier, UpliftTreeClassifier
    from sklift.models import ClassTransformation, TwoModels

    def est() -> Any:
        return lgb.LGBMClassifier(random_state=SEED, **_LGBM)

    class SkliftAdapter:
        def __init__(self, model: Any) -> None:
            self.model = model

        def fit(self, x: np.ndarray, t: np.ndarray, y: np.ndarray) -> Any:
            self.model.fit(x, y, t)
            return self

        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.asarray(self.model.predict(x))

    class CausalmlAdapter:
        def __init__(self, model: Any) -> None:
            self.model = model

        def fit(self, x: np.ndarray, t: np.ndarray, y: np.ndarray) -> Any:
            self.model.fit(x, np.where(t == 1, "treatment", "control"), y)
            return self

        def predict(self, x: np.ndarray) -> np.ndarray:
            out = self.model.predict(x)
            return np.asarray(out)[:, -1] if np.ndim(out) == 2 else np.asarray(out)

    return {
        "sklift_two_models": SkliftAdapter(
            TwoModels(estimator_trmnt=est(), estimator_ctrl=est(), method="vanilla")
        ),
        "sklift_class_transformation": SkliftAdapter(ClassTransformation(estimator=est())),
        "causalml_uplift_tree": CausalmlAdapter(
            UpliftTreeClassifier(
                max_depth=5, min_samples_leaf=200, control_name="control", random_state=SEED
            )
        ),
        "causalml_uplift_forest": CausalmlAdapter(
            UpliftRandomForestClassifier(
                n_estimators=60, max_depth=5, min_samples_leaf=200, control_name="control",
                random_state=SEED, n_jobs=1,
            )
        ),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--no-peers", action="store_true")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    t0 = time.perf_counter()
    _, response = evaluate_response(
        load_bank_marketing(args.data_dir / "uci_bank_full_45k.parquet")
    )
    print(f"response ({response.rows:,} rows, {time.perf_counter() - t0:.1f} s)")
    for name, auc in response.auc.items():
        print(f"  {name:24s} AUC {auc:.4f}  Brier {response.brier[name]:.5f}")

    data = load_hillstrom(args.data_dir / "hillstrom_email_64k.parquet")
    parts = split_uplift(data)
    train, val, test = data.take(parts.train), data.take(parts.validation), data.take(parts.test)
    learners: dict[str, Any] = dict(default_learners())
    if not args.no_peers:
        learners.update(peers())
    rows: dict[str, dict[str, Any]] = {}
    from sklift.metrics import qini_auc_score

    for name, learner in learners.items():
        t1 = time.perf_counter()
        learner.fit(train.x, train.treatment, train.outcome)
        fit_s = time.perf_counter() - t1
        val_scores = UpliftScores.of(learner.predict(val.x), val)
        pred = learner.predict(test.x)
        scores = UpliftScores.of(pred, test)
        rows[name] = {
            "validation_qini": val_scores.qini, **vars(scores),
            "sklift_qini_auc": round(float(qini_auc_score(test.outcome, pred, test.treatment)), 5),
            "fit_seconds": round(fit_s, 1),
        }  # fmt: skip
    ours = [k for k in default_learners()]
    chosen = max(ours, key=lambda k: rows[k]["validation_qini"])
    sizes = f"{len(parts.train):,} / {len(parts.validation):,} / {len(parts.test):,}"
    print(
        f"uplift (Hillstrom visit; train / val / test {sizes}); ours chosen by val Qini: {chosen}"
    )
    widths = (28, 9, 9, 9, 8, 15, 6)
    head = ("learner", "val Qini", "Qini", "AUUC", "upl@30%", "sklift qini_auc", "fit s")
    print(
        "  "
        + " ".join(
            h.ljust(w) if k == 0 else h.rjust(w)
            for k, (h, w) in enumerate(zip(head, widths, strict=True))
        )
    )
    for name, r in rows.items():
        print(
            f"  {name:28s} {r['validation_qini']:9.5f} {r['qini']:9.5f} {r['auuc']:9.5f} "
            f"{r['uplift_at_30']:8.4f} {r['sklift_qini_auc']:15.5f} {r['fit_seconds']:6.1f}"
        )
    if args.out:
        args.out.write_text(
            json.dumps({"response": response.as_dict(), "uplift": rows, "chosen": chosen}, indent=1)
        )


if __name__ == "__main__":
    main()
