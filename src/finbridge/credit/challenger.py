"""LightGBM challenger with per-applicant reasons from LightGBM's own SHAP output.

``pred_contrib=True`` returns exact TreeSHAP contributions to the log-odds of 'bad'; the features
pushing an applicant's log-odds up the most are its reasons. The score uses the same points
scaling as the scorecard, so the two models' scores read the same way.
"""

from __future__ import annotations

import math
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from finbridge.credit.data import FeatureSchema, binary_target, conform, feature_schema
from finbridge.credit.metrics import discrimination
from finbridge.credit.scorecard import (
    REFERENCE_ROWS,
    PointsScaleMixin,
    Reason,
    ScoreResult,
    score_bands,
)


class LightGBMChallenger(PointsScaleMixin, ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees for the same frames the scorecard takes."""

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_child_samples: int = 50,
        base_score: float = 600.0,
        base_odds: float = 50.0,
        pdo: float = 20.0,
        n_reasons: int = 4,
        bad_label: object | None = None,
        drop_unusable: bool = False,
        unseen: str = "error",
        random_state: int = 0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.base_score = base_score
        self.base_odds = base_odds
        self.pdo = pdo
        self.n_reasons = n_reasons
        self.bad_label = bad_label
        self.drop_unusable = drop_unusable
        self.unseen = unseen
        self.random_state = random_state

    def _matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        for col, known in self.schema_.categorical.items():
            out[col] = pd.Categorical(out[col], categories=sorted(known))
        return out

    def fit(self, X: pd.DataFrame, y: Any) -> LightGBMChallenger:
        target = binary_target(y, bad_label=self.bad_label)
        self.schema_: FeatureSchema = feature_schema(X, drop_unusable=self.drop_unusable)
        frame = conform(X, self.schema_)
        self.model_ = lgb.LGBMClassifier(
            n_estimators=self.n_estimators,
            learning_rate=self.learning_rate,
            num_leaves=self.num_leaves,
            min_child_samples=self.min_child_samples,
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.8,
            random_state=self.random_state,
            n_jobs=1,
            verbose=-1,
        )
        self.model_.fit(self._matrix(frame), target)
        self.features_ = list(self.schema_.columns)
        self.classes_ = np.array([0, 1])
        self._set_scale()
        scores = self.credit_score(frame)
        self.bands_ = score_bands(scores)
        self.train_metrics_ = discrimination(target, self.predict_proba(frame)[:, 1]).as_dict()
        keep = np.random.default_rng(0).permutation(len(frame))[:REFERENCE_ROWS]
        self.reference_ = frame.iloc[keep].reset_index(drop=True)
        self.reference_scores_ = scores[keep]
        return self

    def _raw(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model_.predict(self._matrix(frame), raw_score=True), dtype=float)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raw = self._raw(conform(X, self.schema_, unseen=self.unseen))
        p = 1.0 / (1.0 + np.exp(-raw))
        return np.column_stack([1 - p, p])

    def credit_score(self, X: pd.DataFrame) -> np.ndarray:
        raw = self._raw(conform(X, self.schema_, unseen=self.unseen))
        return np.asarray(self.offset_ - self.factor_ * raw, dtype=float)

    def explain(self, X: pd.DataFrame) -> list[ScoreResult]:
        frame = conform(X, self.schema_, unseen=self.unseen)
        contrib = np.asarray(self.model_.predict(self._matrix(frame), pred_contrib=True))
        raw = contrib.sum(axis=1)
        out = []
        for i in range(len(frame)):
            # Points a feature cost = its SHAP push towards 'bad', in score points.
            costs = self.factor_ * contrib[i, :-1]
            order = np.argsort(-costs)
            reasons = tuple(
                Reason(
                    self.features_[j],
                    frame.iloc[i, j],
                    round(float(-costs[j]), 2),
                    round(float(costs[j]), 2),
                )
                for j in order[: self.n_reasons]
                if costs[j] > 1e-9
            )
            score = float(round(self.offset_ - self.factor_ * raw[i], 1))
            p = float(1.0 / (1.0 + math.exp(-raw[i])))
            out.append(ScoreResult(score, p, self.band(score), reasons))
        return out
