"""Population stability of a model's score and of each feature against its training sample."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from finbridge.core.errors import ValidationError
from finbridge.credit.data import conform
from finbridge.credit.metrics import PSI_ALERT, PSI_RETRAIN, psi, psi_status


@dataclass(frozen=True, slots=True)
class StabilityReport:
    """PSI of the score and of every model feature; ``status`` is the worst of them."""

    n_current: int
    score_psi: float
    feature_psi: dict[str, float]
    status: str
    alert_level: float = PSI_ALERT
    retrain_level: float = PSI_RETRAIN

    def as_dict(self) -> dict[str, Any]:
        return {
            "n_current": self.n_current,
            "score_psi": self.score_psi,
            "score_status": psi_status(self.score_psi),
            "feature_psi": self.feature_psi,
            "feature_status": {k: psi_status(v) for k, v in self.feature_psi.items()},
            "status": self.status,
            "alert_level": self.alert_level,
            "retrain_level": self.retrain_level,
        }


_RANK = {"stable": 0, "alert": 1, "retrain": 2}


def stability(model: Any, current: pd.DataFrame) -> StabilityReport:
    """Compare ``current`` applicants with the sample the model kept from its training data."""
    if len(current) == 0:
        raise ValidationError("no current applicants to compare", field="current")
    frame = conform(current, model.schema_, unseen="missing", needed=list(model.reference_.columns))
    scores = np.asarray(model.credit_score(frame), dtype=float)
    score_psi = psi(model.reference_scores_, scores)
    feats: dict[str, float] = {}
    for f in model.reference_.columns:
        ref = model.reference_[f]
        cur = frame[f]
        if f in model.schema_.categorical:
            feats[f] = psi(
                ref.fillna("<missing>").to_numpy(object), cur.fillna("<missing>").to_numpy(object)
            )
        else:
            feats[f] = psi(ref.to_numpy(float), cur.to_numpy(float))
    statuses = [psi_status(score_psi), *(psi_status(v) for v in feats.values())]
    worst = max(statuses, key=_RANK.__getitem__)
    return StabilityReport(len(frame), score_psi, feats, worst)
