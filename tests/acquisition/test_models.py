"""Response and uplift models on the shipped real slices, and the uplift metrics themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import finbridge
from finbridge.acquisition.response import (
    LEAKY,
    evaluate_response,
    features_of,
    load_bank_marketing,
)
from finbridge.acquisition.uplift import (
    ClassTransformation,
    TwoModel,
    UpliftData,
    UpliftForest,
    evaluate_uplift,
    load_hillstrom,
    qini_curve,
    uplift_at,
    uplift_curve,
)
from finbridge.core.errors import ValidationError

DATA = Path(finbridge.__file__).parent / "datasets" / "marketing"


@pytest.mark.slow  # 10-18 s on the loaded machine: 3 LightGBM fits and a logistic regression
def test_response_model_is_calibrated_with_reasons() -> None:
    frame = load_bank_marketing(DATA / "uci_bank_full_sample_6k.parquet")
    assert not set(LEAKY) & set(features_of(frame))  # call duration is known only afterwards
    model, report = evaluate_response(frame)
    assert set(report.auc) == {
        "lightgbm_calibrated",
        "lightgbm_uncalibrated",
        "lightgbm_default",
        "logistic",
    }
    # On this 6,000-row slice the logistic baseline ranks as well or better (0.74 vs 0.72);
    # on the full 45,211 rows LightGBM wins (docs/benchmarks.md). Here: sane, not superior.
    assert report.auc["lightgbm_calibrated"] > 0.68 and report.auc["logistic"] > 0.68
    # Calibrated: across deciles the mean prediction tracks the observed rate.
    gaps = [abs(p - o) for p, o, _ in report.calibration]
    assert max(gaps) < 0.15
    assert report.brier["lightgbm_calibrated"] <= report.brier["lightgbm_uncalibrated"] + 0.002
    x = frame[features_of(frame)].iloc[:20]
    p = model.predict_proba(x)
    assert ((p >= 0) & (p <= 1)).all()
    reasons = model.reasons(x)
    assert len(reasons) == 20 and all(name in model.features_ for row in reasons for name, _ in row)


def _planted(n: int = 8000, seed: int = 3) -> UpliftData:
    """Synthetic experiment: the message helps only when x0 > 0.5 (+20 points)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3))
    t = rng.integers(0, 2, n).astype(np.int8)
    p = 0.1 + 0.2 * t * (x[:, 0] > 0.5)
    y = (rng.random(n) < p).astype(np.int8)
    return UpliftData(x, t, y, ("x0", "x1", "x2"))


@pytest.mark.parametrize(
    "learner",
    [TwoModel(), ClassTransformation(), UpliftForest(n_trees=8, min_arm=50)],
    ids=["two_model", "class_transformation", "uplift_forest"],
)
def test_learners_find_the_planted_uplift(learner: object) -> None:
    data = _planted()
    learner.fit(data.x, data.treatment, data.outcome)  # type: ignore[attr-defined]
    pred = learner.predict(data.x)  # type: ignore[attr-defined]
    moved = data.x[:, 0] > 0.5
    assert pred[moved].mean() - pred[~moved].mean() > 0.1


def test_qini_and_uplift_curves_rank_a_perfect_model_above_random() -> None:
    data = _planted()
    truth = 0.2 * (data.x[:, 0] > 0.5)
    noise = np.random.default_rng(1).random(len(truth))
    good = qini_curve(truth + 0.01 * noise, data.treatment, data.outcome).area_over_random()
    bad = qini_curve(noise, data.treatment, data.outcome).area_over_random()
    assert good > 0.01 > abs(bad)
    assert uplift_curve(truth, data.treatment, data.outcome).area_over_random() > 0
    assert uplift_at(truth, data.treatment, data.outcome, 0.3) > 0.1
    with pytest.raises(ValidationError, match="share"):
        uplift_at(truth, data.treatment, data.outcome, 0)


def test_uplift_learner_is_picked_by_validation_qini_on_hillstrom() -> None:
    data = load_hillstrom(DATA / "hillstrom_email_sample_12k.parquet")
    assert 0.6 < data.treatment.mean() < 0.7  # two e-mail arms of three
    learners = {"two_model": TwoModel(), "uplift_forest": UpliftForest(n_trees=10)}
    chosen, report = evaluate_uplift(data, learners)  # type: ignore[arg-type]
    assert report.chosen == max(report.validation, key=lambda k: report.validation[k].qini)
    assert chosen is learners[report.chosen]
    assert set(report.test) == set(learners)
    assert report.rows == {"train": 6000, "validation": 3000, "test": 3000}
    assert report.qini_points[0] == (0.0, 0.0) and report.qini_points[-1][0] == 1.0


def test_uplift_inputs_are_checked() -> None:
    data = _planted(200)
    with pytest.raises(ValidationError, match="treated and a control"):
        TwoModel().fit(data.x, np.ones(200, dtype=np.int8), data.outcome)
    with pytest.raises(ValidationError, match="0/1"):
        UpliftForest().fit(data.x, data.treatment, data.outcome * 2)
