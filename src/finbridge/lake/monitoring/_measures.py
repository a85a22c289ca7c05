"""Drift and performance measures for any model's scores: PSI/CSI, AUC, AP, KS.

Plain NumPy (scikit-learn on first use for AUC and AP), in the lake so the credit and risk
engines share one implementation without importing each other. Every measure is safe on an
empty or one-class window: it says so (``None`` and a status) instead of dividing by zero.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from finbridge.core.errors import ValidationError

PSI_ALERT = 0.10
PSI_RETRAIN = 0.25
PSI_FLOOR = 1e-4  # keeps an empty bucket's share finite (log of zero)

NO_TRAFFIC = "no_traffic"
NO_LABELS = "insufficient_labels"


def psi(expected: ArrayLike, actual: ArrayLike, *, bins: int = 10) -> float:
    """Population stability index of ``actual`` against ``expected`` (the training sample).

    Numeric samples are cut at the expected sample's quantiles (missing values are a bucket of
    their own); object samples are compared category by category. A small floor keeps empty
    buckets finite. Applied to one feature this is the characteristic stability index (CSI).
    """
    e = np.asarray(expected)
    a = np.asarray(actual)
    if e.size == 0 or a.size == 0:
        raise ValidationError("PSI needs non-empty samples", field="sample")
    if e.dtype.kind in "OUSb":
        e_s, a_s = e.astype(str), a.astype(str)
        cats = np.unique(np.concatenate([e_s, a_s]))
        e_frac = np.array([(e_s == c).mean() for c in cats])
        a_frac = np.array([(a_s == c).mean() for c in cats])
    else:
        e_f = e.astype(np.float64)
        a_f = a.astype(np.float64)
        e_nan, a_nan = np.isnan(e_f), np.isnan(a_f)
        edges = np.unique(np.nanquantile(e_f, np.linspace(0, 1, bins + 1)[1:-1]))
        e_idx = np.searchsorted(edges, e_f[~e_nan], side="right")
        a_idx = np.searchsorted(edges, a_f[~a_nan], side="right")
        k = edges.size + 1
        e_frac = np.append(np.bincount(e_idx, minlength=k), e_nan.sum()) / e.size
        a_frac = np.append(np.bincount(a_idx, minlength=k), a_nan.sum()) / a.size
    e_frac = np.clip(e_frac, PSI_FLOOR, None)
    a_frac = np.clip(a_frac, PSI_FLOOR, None)
    return float(np.sum((a_frac - e_frac) * np.log(a_frac / e_frac)))


def psi_status(value: float, *, alert: float = PSI_ALERT, retrain: float = PSI_RETRAIN) -> str:
    """'stable' below ``alert`` (0.10), 'alert' from it, 'retrain' from ``retrain`` (0.25)."""
    if value >= retrain:
        return "retrain"
    if value >= alert:
        return "alert"
    return "stable"


_RANK = {NO_TRAFFIC: -1, "stable": 0, "alert": 1, "retrain": 2}


@dataclass(frozen=True, slots=True)
class DriftReport:
    """PSI of the score and CSI of every feature; ``status`` is the worst of them, or
    ``no_traffic`` when the window holds nothing to compare (no PSI is computed then)."""

    n_reference: int
    n_current: int
    score_psi: float | None
    feature_psi: dict[str, float] = field(default_factory=dict)
    status: str = NO_TRAFFIC

    def to_json(self) -> dict[str, Any]:
        return {
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "score_psi": None if self.score_psi is None else round(self.score_psi, 6),
            "feature_psi": {k: round(v, 6) for k, v in self.feature_psi.items()},
            "status": self.status,
        }


def drift(
    reference_scores: ArrayLike,
    current_scores: ArrayLike,
    reference_features: Mapping[str, ArrayLike] | None = None,
    current_features: Mapping[str, ArrayLike] | None = None,
    *,
    alert: float = PSI_ALERT,
    retrain: float = PSI_RETRAIN,
) -> DriftReport:
    """Score PSI and per-feature CSI of a window against the model's reference sample.

    A window with no traffic (or a model with no reference sample) is ``no_traffic``: nothing
    to compare is not drift, and nothing is divided by zero."""
    ref = np.asarray(reference_scores, dtype=np.float64)
    cur = np.asarray(current_scores, dtype=np.float64)
    if cur.size == 0 or ref.size == 0:
        return DriftReport(int(ref.size), int(cur.size), None, {}, NO_TRAFFIC)
    score = psi(ref, cur)
    features: dict[str, float] = {}
    for name, values in (reference_features or {}).items():
        current = (current_features or {}).get(name)
        if current is None:
            raise ValidationError(f"the window has no values of feature {name}", field=name)
        if np.asarray(values).size and np.asarray(current).size:
            features[name] = psi(values, current)
    statuses = [psi_status(v, alert=alert, retrain=retrain) for v in (score, *features.values())]
    return DriftReport(
        int(ref.size), int(cur.size), score, features, max(statuses, key=_RANK.__getitem__)
    )


@dataclass(frozen=True, slots=True)
class Performance:
    """Discrimination on the labelled part of a window: AUC, average precision, KS.

    ``status`` is ``ok`` or ``insufficient_labels`` (no labels yet, or one class only: label-
    delayed performance waits for both outcomes to arrive); the measures are None then."""

    n_labelled: int
    positives: int
    auc: float | None
    average_precision: float | None
    ks: float | None
    status: str

    def to_json(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 6)

        return {
            "n_labelled": self.n_labelled,
            "positives": self.positives,
            "auc": r(self.auc),
            "average_precision": r(self.average_precision),
            "ks": r(self.ks),
            "status": self.status,
        }


def performance(labels: ArrayLike, scores: ArrayLike) -> Performance:
    """AUC, AP and KS of ``scores`` (higher = more likely positive) against 0/1 ``labels``."""
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValidationError("labels and scores must be 1-d, of one length", field="labels")
    if y.size and not set(np.unique(y).tolist()) <= {0, 1}:
        raise ValidationError("labels must be 0 or 1", field="labels")
    positives = int(y.sum()) if y.size else 0
    if positives == 0 or positives == y.size:
        return Performance(int(y.size), positives, None, None, None, NO_LABELS)
    from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, s)
    return Performance(
        int(y.size),
        positives,
        float(roc_auc_score(y, s)),
        float(average_precision_score(y, s)),
        float(np.max(tpr - fpr)),
        "ok",
    )


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When a monitor raises an alert: PSI levels and the least acceptable AUC/AP/KS."""

    psi_alert: float = PSI_ALERT
    psi_retrain: float = PSI_RETRAIN
    min_auc: float = 0.70
    min_average_precision: float = 0.0
    min_ks: float = 0.20


@dataclass(frozen=True, slots=True)
class Alert:
    metric: str  # score_psi, feature_psi:<name>, auc, average_precision, ks
    value: float
    threshold: float
    level: str  # alert, retrain

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "value": round(self.value, 6),
            "threshold": self.threshold,
            "level": self.level,
        }


def alerts(report: DriftReport, perf: Performance | None, limits: Thresholds) -> list[Alert]:
    """Every measure past its configured threshold (nothing for no traffic or no labels)."""
    out: list[Alert] = []
    measured = [("score_psi", report.score_psi)] if report.score_psi is not None else []
    measured += [(f"feature_psi:{k}", v) for k, v in report.feature_psi.items()]
    for metric, value in measured:
        if value >= limits.psi_retrain:
            out.append(Alert(metric, value, limits.psi_retrain, "retrain"))
        elif value >= limits.psi_alert:
            out.append(Alert(metric, value, limits.psi_alert, "alert"))
    if perf is not None and perf.status == "ok":
        floors = (
            ("auc", perf.auc, limits.min_auc),
            ("average_precision", perf.average_precision, limits.min_average_precision),
            ("ks", perf.ks, limits.min_ks),
        )
        for metric, got, floor in floors:
            if got is not None and got < floor:
                out.append(Alert(metric, got, floor, "alert"))
    return out
