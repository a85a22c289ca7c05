"""Model quality and stability measures: KS, AUC, Gini, calibration, score bands, PSI.

Plain NumPy on purpose: these run inside scoring services and reports, on any model's output.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from finbridge.core.errors import ValidationError

# PSI lives with the other monitors in the lake (one implementation, shared with risk).
from finbridge.lake.monitoring import PSI_ALERT as PSI_ALERT
from finbridge.lake.monitoring import PSI_RETRAIN as PSI_RETRAIN
from finbridge.lake.monitoring import psi as psi
from finbridge.lake.monitoring import psi_status as psi_status


@dataclass(frozen=True, slots=True)
class Discrimination:
    """How well a model separates good from bad customers on one labelled sample."""

    auc: float
    gini: float
    ks: float
    ks_threshold: float
    n: int
    bad_rate: float

    def as_dict(self) -> dict[str, float]:
        return {k: float(v) for k, v in asdict(self).items()}


def _binary(y: ArrayLike, field: str = "y") -> NDArray[np.int_]:
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.size == 0:
        raise ValidationError("needs a non-empty 1-d array of outcomes", field=field)
    values = set(np.unique(arr).tolist())
    if not values <= {0, 1}:
        raise ValidationError(f"outcomes must be 0/1, got {sorted(values)[:5]}", field=field)
    if len(values) < 2:
        raise ValidationError("outcomes contain only one class", field=field)
    return arr.astype(int)


def discrimination(y: ArrayLike, p_bad: ArrayLike) -> Discrimination:
    """AUC, Gini and the Kolmogorov-Smirnov distance for predicted probabilities of 'bad'."""
    yy = _binary(y)
    pp = np.asarray(p_bad, dtype=float)
    from sklearn.metrics import roc_auc_score, roc_curve  # on first use: seconds to import

    auc = float(roc_auc_score(yy, pp))
    fpr, tpr, thr = roc_curve(yy, pp)
    i = int(np.argmax(tpr - fpr))
    return Discrimination(
        auc=auc,
        gini=2 * auc - 1,
        ks=float(tpr[i] - fpr[i]),
        ks_threshold=float(min(thr[i], 1.0)),
        n=int(yy.size),
        bad_rate=float(yy.mean()),
    )


def calibration_table(y: ArrayLike, p_bad: ArrayLike, n_bins: int = 10) -> list[dict[str, Any]]:
    """Predicted vs observed bad rate per probability decile (equal-count groups)."""
    yy = _binary(y)
    pp = np.asarray(p_bad, dtype=float)
    order = np.argsort(pp, kind="stable")
    rows = []
    for k, idx in enumerate(np.array_split(order, min(n_bins, yy.size))):
        if idx.size == 0:
            continue
        rows.append(
            {
                "group": k + 1,
                "n": int(idx.size),
                "predicted": float(pp[idx].mean()),
                "observed": float(yy[idx].mean()),
            }
        )
    return rows


def brier(y: ArrayLike, p_bad: ArrayLike) -> float:
    yy = _binary(y)
    return float(np.mean((np.asarray(p_bad, dtype=float) - yy) ** 2))
