"""A points scorecard on the scikit-learn estimator API.

optbinning finds monotonic bins per feature, features are kept by information value, a logistic
regression is fitted on the weights of evidence, and log-odds are scaled to points:

    score = offset + factor * ln(odds_good),  factor = pdo / ln 2,
    offset = base_score - factor * ln(base_odds)

so ``base_score`` points mean good:bad odds of ``base_odds`` and every ``pdo`` points double them.
Each feature contributes ``-factor * coef * woe`` points; its reason code is how many points the
applicant lost against the feature's best bin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from optbinning import BinningProcess
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from finbridge.core.errors import ValidationError
from finbridge.credit.data import FeatureSchema, binary_target, conform, feature_schema
from finbridge.credit.metrics import discrimination

REFERENCE_ROWS = 5000


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason code: a feature that cost the applicant points."""

    feature: str
    value: Any
    points: float
    points_lost: float


@dataclass(frozen=True, slots=True)
class ScoreResult:
    score: float
    probability_bad: float
    band: str
    reasons: tuple[Reason, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "probability_bad": self.probability_bad,
            "band": self.band,
            "reasons": [
                {
                    "feature": r.feature,
                    "value": _plain(r.value),
                    "points": r.points,
                    "points_lost": r.points_lost,
                }
                for r in self.reasons
            ],
        }


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _bin_label(b: Any) -> str:
    if isinstance(b, str):
        return b
    try:
        return ", ".join(str(v) for v in list(b))
    except TypeError:
        return str(b)


def score_bands(
    scores: np.ndarray, labels: tuple[str, ...] = ("A", "B", "C", "D", "E")
) -> list[tuple[str, float]]:
    """Equal-count bands over training scores, best first: [(label, min_score), ...]."""
    qs = np.quantile(scores, np.linspace(1, 0, len(labels) + 1)[1:-1])
    return [*zip(labels[:-1], [float(q) for q in qs], strict=True), (labels[-1], -math.inf)]


class PointsScaleMixin:
    """Shared by the credit estimators: points scaling, bands and the 0/1 prediction."""

    pdo: float
    base_odds: float
    base_score: float
    bands_: list[tuple[str, float]]

    def _set_scale(self) -> None:
        if self.pdo <= 0 or self.base_odds <= 0:
            raise ValidationError("pdo and base_odds must be positive", field="pdo")
        self.factor_ = self.pdo / math.log(2)
        self.offset_ = self.base_score - self.factor_ * math.log(self.base_odds)

    def band(self, score: float) -> str:
        for label, floor in self.bands_:
            if score >= floor:
                return label
        return self.bands_[-1][0]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)  # type: ignore[attr-defined, no-any-return]


class Scorecard(PointsScaleMixin, ClassifierMixin, BaseEstimator):
    """Binning + WoE + logistic regression + points, for any frame with a binary target."""

    def __init__(
        self,
        *,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
        min_iv: float = 0.02,
        max_features: int | None = None,
        monotonic_trend: str = "auto_asc_desc",
        max_n_bins: int = 8,
        C: float = 1.0,
        n_reasons: int = 4,
        bands: tuple[tuple[str, float], ...] | None = None,
        bad_label: object | None = None,
        drop_unusable: bool = False,
        unseen: str = "error",
    ) -> None:
        self.base_score = base_score
        self.base_odds = base_odds
        self.pdo = pdo
        self.min_iv = min_iv
        self.max_features = max_features
        self.monotonic_trend = monotonic_trend
        self.max_n_bins = max_n_bins
        self.C = C
        self.n_reasons = n_reasons
        self.bands = bands
        self.bad_label = bad_label
        self.drop_unusable = drop_unusable
        self.unseen = unseen

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: Any) -> Scorecard:
        self._set_scale()
        if self.unseen not in ("error", "missing"):
            raise ValidationError("unseen must be 'error' or 'missing'", field="unseen")
        target = binary_target(y, bad_label=self.bad_label)
        self.schema_: FeatureSchema = feature_schema(X, drop_unusable=self.drop_unusable)
        frame = conform(X, self.schema_)
        names = self.schema_.columns
        cats = list(self.schema_.categorical)
        fit_params = {
            c: {"monotonic_trend": self.monotonic_trend, "max_n_bins": self.max_n_bins}
            for c in self.schema_.numeric
        }
        fit_params.update({c: {"max_n_bins": self.max_n_bins} for c in cats})
        self.binning_ = BinningProcess(
            names, categorical_variables=cats, binning_fit_params=fit_params
        )
        self.binning_.fit(frame, target)
        summary = self.binning_.summary()
        iv = {str(r["name"]): float(r["iv"]) for _, r in summary.iterrows()}
        ranked = sorted(names, key=lambda c: -iv[c])
        selected = [c for c in ranked if iv[c] >= self.min_iv][: self.max_features]
        if not selected:
            raise ValidationError(
                f"no feature reaches the minimum information value {self.min_iv}",
                field="min_iv",
                best=ranked[0],
            )
        self.iv_ = iv
        self.features_ = selected
        woe = self._woe(frame)
        self.lr_ = LogisticRegression(C=self.C, max_iter=1000)
        self.lr_.fit(woe, target)
        self._best_points = {f: float(np.max(self._bin_points(f)[0])) for f in self.features_}
        self.classes_ = np.array([0, 1])
        scores = self.credit_score(frame)
        self.bands_ = list(self.bands) if self.bands else score_bands(scores)
        self.train_metrics_ = discrimination(target, self.predict_proba(frame)[:, 1]).as_dict()
        rng = np.random.default_rng(0)
        keep = rng.permutation(len(frame))[:REFERENCE_ROWS]
        self.reference_ = frame.iloc[keep][self.features_].reset_index(drop=True)
        self.reference_scores_ = scores[keep]
        return self

    def _woe(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = self.binning_.transform(frame[self.schema_.columns], metric="woe")
        return out[self.features_]

    def _bin_points(self, feature: str) -> tuple[np.ndarray, pd.DataFrame]:
        table = self.binning_.get_binned_variable(feature).binning_table.build()
        table = table[table.index != "Totals"]
        table = table[table["Count"] > 0]
        coef = self.lr_.coef_[0][self.features_.index(feature)]
        pts = -self.factor_ * coef * table["WoE"].astype(float).to_numpy()
        return pts, table

    # -- scoring ------------------------------------------------------------------------------
    def credit_score(self, X: pd.DataFrame) -> np.ndarray:
        """Points per applicant (higher is better)."""
        woe = self._woe(conform(X, self.schema_, unseen=self.unseen, needed=self.features_))
        pts = -self.factor_ * woe.to_numpy() * self.lr_.coef_[0]
        base = self.offset_ - self.factor_ * float(self.lr_.intercept_[0])
        return np.asarray(base + pts.sum(axis=1), dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        frame = conform(X, self.schema_, unseen=self.unseen, needed=self.features_)
        p = self.lr_.predict_proba(self._woe(frame))[:, 1]
        return np.column_stack([1 - p, p])

    def explain(self, X: pd.DataFrame) -> list[ScoreResult]:
        """Score, probability, band and the features that cost each applicant most points."""
        frame = conform(X, self.schema_, unseen=self.unseen, needed=self.features_)
        woe = self._woe(frame)
        pts = -self.factor_ * woe * self.lr_.coef_[0]
        base = self.offset_ - self.factor_ * float(self.lr_.intercept_[0])
        scores = base + pts.sum(axis=1).to_numpy()
        probs = self.lr_.predict_proba(woe)[:, 1]
        out = []
        for i in range(len(frame)):
            lost = []
            for f in self.features_:
                p = float(pts[f].iloc[i])
                loss = self._best_points[f] - p
                if loss > 1e-9:
                    lost.append(Reason(f, frame[f].iloc[i], round(p, 2), round(loss, 2)))
            lost.sort(key=lambda r: -r.points_lost)
            score = float(round(scores[i], 1))
            out.append(
                ScoreResult(score, float(probs[i]), self.band(score), tuple(lost[: self.n_reasons]))
            )
        return out

    # -- tables -------------------------------------------------------------------------------
    def iv_table(self) -> pd.DataFrame:
        """Information value per candidate feature, with whether it was selected."""
        rows = [
            {"feature": f, "iv": v, "selected": f in self.features_} for f, v in self.iv_.items()
        ]
        return pd.DataFrame(rows).sort_values("iv", ascending=False).reset_index(drop=True)

    def points_table(self) -> pd.DataFrame:
        """Every selected feature's bins with count, bad rate, WoE, IV and points."""
        parts = []
        for f in self.features_:
            pts, table = self._bin_points(f)
            parts.append(
                pd.DataFrame(
                    {
                        "feature": f,
                        "bin": [_bin_label(b) for b in table["Bin"]],
                        "count": table["Count"].astype(int).to_numpy(),
                        "bad_rate": table["Event rate"].astype(float).to_numpy(),
                        "woe": table["WoE"].astype(float).to_numpy(),
                        "iv": table["IV"].astype(float).to_numpy(),
                        "points": np.round(pts, 2),
                    }
                )
            )
        return pd.concat(parts, ignore_index=True)
