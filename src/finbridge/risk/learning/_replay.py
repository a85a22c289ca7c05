"""Monitor days computed from a replay of labelled payments through a model, for data that
reached the bank without passing the decision engine (the demo's seeded card payments, a
partner's file): the same drift and performance measures as the live monitor, on the model's
scores of the file, with labels known one feedback delay after each payment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import polars as pl

from finbridge.lake.monitoring import DriftReport, Performance, drift, performance
from finbridge.risk.learning._history import HandbookHistory

if TYPE_CHECKING:
    from finbridge.risk.models import FraudModel


@dataclass(frozen=True, slots=True)
class ReplayDay:
    day: date
    drift: DriftReport
    performance: Performance


def replay_days(
    history: HandbookHistory,
    model: FraudModel,
    *,
    shift: timedelta = timedelta(0),
    baseline_days: int = 7,
    label_days: int = 30,
    label_delay_days: int = 7,
    psi_alert: float = 0.10,
    psi_retrain: float = 0.25,
) -> list[ReplayDay]:
    """One monitor day per day of the file after its first ``baseline_days`` (moved by
    ``shift``, as the demo moves its replay to end yesterday)."""
    frame = history.features.with_columns(
        pl.Series("score", model.score_frame(history.features)),
        pl.col("TX_DATETIME").dt.date().alias("day"),
    )
    days = sorted(frame["day"].unique().to_list())
    out = []
    for d in days[baseline_days:]:
        current = frame.filter(pl.col("day") == d)
        reference = frame.filter(
            (pl.col("day") >= d - timedelta(days=baseline_days)) & (pl.col("day") < d)
        )
        report = drift(
            reference["score"].to_numpy(), current["score"].to_numpy(),
            {f: reference[f].to_numpy() for f in ("amount", "hour")},
            {f: current[f].to_numpy() for f in ("amount", "hour")},
            alert=psi_alert, retrain=psi_retrain,
        )  # fmt: skip
        # Labels known by the end of day d: payments at least one delay old, in the window.
        known = frame.filter(
            (pl.col("day") <= d - timedelta(days=label_delay_days))
            & (pl.col("day") > d - timedelta(days=label_days))
        )
        perf = performance(known["TX_FRAUD"].to_numpy(), known["score"].to_numpy())
        out.append(ReplayDay(d + shift, report, perf))
    return out
