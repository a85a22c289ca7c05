"""One turn of the learning loop for the fraud model: train a challenger on fresh labelled
history, evaluate it beside the champion on the latest labelled window, decide.

Windows at ``as_of`` (labels known one feedback delay after the transaction)::

    |---- training: history_days ----|-- evaluation: eval_days --|-- labels pending --| as_of

The evaluation window is the newest one whose labels are known; the challenger never trains
on it, so both models are judged out of time. The challenger wins only if its average
precision beats the champion's by ``margin`` (absolute): a tie keeps the champion.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import polars as pl

from finbridge.core.errors import ValidationError
from finbridge.lake.monitoring import performance
from finbridge.risk.learning._history import LabelledHistory

if TYPE_CHECKING:
    from finbridge.risk.models import FraudModel

CARDS_PER_DAY = 10  # card precision@k: an analyst team's daily review capacity on a small bank


@dataclass(frozen=True, slots=True)
class RetrainPolicy:
    """Windows and the promotion margin of the retraining job (``settings.risk``)."""

    history_days: int = 56
    eval_days: int = 7
    label_delay_days: int = 7
    margin: float = 0.01
    rounds: int = 100

    def __post_init__(self) -> None:
        for name, low, high in (
            ("history_days", 7, 730), ("eval_days", 1, 90), ("label_delay_days", 0, 365),
            ("rounds", 10, 2000),
        ):  # fmt: skip
            value = getattr(self, name)
            if not isinstance(value, int) or not low <= value <= high:
                raise ValidationError(f"{name} must be {low}-{high}", field=name)
        if not 0.0 <= self.margin <= 1.0:
            raise ValidationError("margin must be 0-1 (average precision)", field="margin")


@dataclass(frozen=True, slots=True)
class Judgement:
    """One model's fraud-catching on the evaluation window."""

    version: str
    auc: float | None
    average_precision: float
    ks: float | None
    card_precision: float

    def to_json(self) -> dict[str, Any]:
        def r(v: float | None) -> float | None:
            return None if v is None else round(v, 4)

        return {
            "version": self.version,
            "auc": r(self.auc),
            "average_precision": r(self.average_precision),
            "ks": r(self.ks),
            f"card_precision_{CARDS_PER_DAY}": r(self.card_precision),
        }


@dataclass(frozen=True, slots=True)
class TurnResult:
    as_of: datetime
    challenger: Judgement
    champion: Judgement | None
    promote: bool
    reason: str
    margin: float
    train_rows: int
    train_frauds: int
    eval_rows: int
    eval_frauds: int
    train_window: tuple[datetime, datetime]
    eval_window: tuple[datetime, datetime]

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "challenger": self.challenger.to_json(),
            "champion": self.champion.to_json() if self.champion else None,
            "promote": self.promote,
            "reason": self.reason,
            "margin": self.margin,
            "train": {"rows": self.train_rows, "frauds": self.train_frauds,
                      "from": self.train_window[0].isoformat(),
                      "until": self.train_window[1].isoformat()},
            "evaluation": {"rows": self.eval_rows, "frauds": self.eval_frauds,
                           "from": self.eval_window[0].isoformat(),
                           "until": self.eval_window[1].isoformat()},
        }  # fmt: skip


def judge(model: FraudModel, window: pl.DataFrame) -> Judgement:
    """AUC, AP and KS (the monitors' own measures) and card precision@k of ``model``."""
    from finbridge.risk.models import card_precision_at_k

    scores = model.score_frame(window)
    perf = performance(window["TX_FRAUD"].to_numpy(), scores)
    if perf.average_precision is None:
        raise ValidationError("the window needs frauds and genuine payments", field="label")
    cards = card_precision_at_k(window, scores, CARDS_PER_DAY)
    return Judgement(model.version, perf.auc, perf.average_precision, perf.ks, cards)


def _both_classes(rows: pl.DataFrame, part: str) -> int:
    frauds = int(rows["TX_FRAUD"].sum()) if rows.height else 0
    if frauds == 0 or frauds == rows.height:
        raise ValidationError(
            f"the {part} window ({rows.height} transactions) has {frauds} labelled frauds: "
            "both classes are needed; move as_of or widen the windows",
            field="as_of",
        )
    return frauds


def challenge(
    history: LabelledHistory,
    champion: FraudModel | None,
    as_of: datetime,
    policy: RetrainPolicy,
    *,
    version: str | None = None,
) -> tuple[FraudModel, TurnResult]:
    """Train a challenger on the labelled history known at ``as_of`` and judge it beside
    ``champion`` (``None``: there is no live model, and a challenger that learned anything is
    promoted) on the latest labelled window."""
    from finbridge.risk.models import FraudModel

    labels_until = as_of - timedelta(days=policy.label_delay_days)
    eval_from = labels_until - timedelta(days=policy.eval_days)
    train_from = eval_from - timedelta(days=policy.history_days)
    rows = history.labelled(as_of, since=train_from)
    when = pl.col("TX_DATETIME")
    train = rows.filter(when < eval_from)
    evaluation = rows.filter(when >= eval_from)
    train_frauds = _both_classes(train, "training")
    eval_frauds = _both_classes(evaluation, "evaluation")
    challenger = FraudModel.fit(
        train, rounds=policy.rounds, version=version or f"retrain-{as_of:%Y%m%d}"
    )
    new = judge(challenger, evaluation)
    old = judge(champion, evaluation) if champion is not None else None
    if old is None:
        promote, reason = True, "there is no live model"
    else:
        gain = new.average_precision - old.average_precision
        promote = gain >= policy.margin and gain > 0
        reason = (
            f"average precision {new.average_precision:.4f} vs {old.average_precision:.4f} "
            f"(gain {gain:+.4f}, margin {policy.margin:.4f})"
        )
    return challenger, TurnResult(
        as_of, new, old, promote, reason, policy.margin, train.height, train_frauds,
        evaluation.height, eval_frauds, (train_from, eval_from), (eval_from, labels_until),
    )  # fmt: skip
