"""The fraud model's learning loop: labelled point-in-time history, a challenger trained on it,
judged beside the champion on the latest labelled window, promoted only past a margin
(``RiskService.retrain`` registers it, runs it in shadow, promotes it and keeps one-step
rollback). Labelled history comes from a handbook-layout file or from the platform's own live
decisions and their verdicts (``DecisionHistory``), both joined through the feature store.
Polars on import; LightGBM and scikit-learn when a turn runs."""

from finbridge.risk.learning._decisions import DecisionHistory
from finbridge.risk.learning._history import (
    LABEL_COLUMNS,
    FeatureStoreHistory,
    HandbookHistory,
    LabelledHistory,
)
from finbridge.risk.learning._monitor import DayMeasures, measure_day, versions_seen
from finbridge.risk.learning._replay import ReplayDay, replay_days
from finbridge.risk.learning._retrain import (
    CARDS_PER_DAY,
    Judgement,
    RetrainPolicy,
    TurnResult,
    challenge,
    judge,
)

__all__ = [
    "CARDS_PER_DAY",
    "LABEL_COLUMNS",
    "DayMeasures",
    "DecisionHistory",
    "FeatureStoreHistory",
    "HandbookHistory",
    "Judgement",
    "LabelledHistory",
    "ReplayDay",
    "RetrainPolicy",
    "TurnResult",
    "challenge",
    "judge",
    "measure_day",
    "replay_days",
    "versions_seen",
]
