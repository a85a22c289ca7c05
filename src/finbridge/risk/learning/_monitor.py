"""The fraud model's daily monitor: drift of its live scores and inputs, label-delayed
performance, from the decision history (no replay, no model load).

- Drift: the day's live decisions scored by ``version`` against the same model's decisions of
  the ``baseline_days`` before (score PSI; CSI of amount and hour of day, the inputs every
  decision records). A day without decisions, or a model without a baseline yet, is
  ``no_traffic``: said, never divided by.
- Performance: decisions of the last ``label_days`` whose verdict is known by the end of the
  day (an analyst closed their case: ``risk.label``; a chargeback arrived: ``risk.chargeback``,
  which overrides an earlier verdict from its arrival on), AUC/AP/KS of the live score.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from sqlalchemy import Engine, select

from finbridge.lake.monitoring import DriftReport, Performance, drift, performance
from finbridge.risk.tables import CaseRow, DecisionRow
from finbridge.store.engine import unit_of_work


@dataclass(frozen=True, slots=True)
class DayMeasures:
    version: str
    drift: DriftReport
    performance: Performance


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _window(
    engine: Engine, version: str, start: datetime, end: datetime
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    query = select(DecisionRow.ml_score, DecisionRow.amount_minor, DecisionRow.occurred_at).where(
        DecisionRow.mode == "live",
        DecisionRow.model_version == version,
        DecisionRow.ml_score.is_not(None),
        DecisionRow.occurred_at >= start,
        DecisionRow.occurred_at < end,
    )
    with unit_of_work(engine, write=False) as s:
        rows = s.execute(query).all()
    scores = np.array([r[0] for r in rows], dtype=np.float64)
    amounts = np.array([r[1] for r in rows], dtype=np.float64)
    hours = np.array([r[2].hour for r in rows], dtype=np.float64)
    return scores, amounts, hours


def _labelled(
    engine: Engine, version: str, since: datetime, until: datetime
) -> tuple[np.ndarray, np.ndarray]:
    """Each decision's newest verdict known before ``until``: an analyst's case, or a
    chargeback (a closed ``chargeback`` case) that arrived later and overrides it."""
    query = (
        select(DecisionRow.id, DecisionRow.ml_score, CaseRow.label, CaseRow.closed_at)
        .join(CaseRow, CaseRow.decision_id == DecisionRow.id)
        .where(
            DecisionRow.mode == "live",
            DecisionRow.model_version == version,
            DecisionRow.ml_score.is_not(None),
            DecisionRow.occurred_at >= since,
            CaseRow.closed_at.is_not(None),
            CaseRow.closed_at < until,  # only what was known by the end of the day
            CaseRow.label.in_(("fraud", "not_fraud")),
        )
    )
    with unit_of_work(engine, write=False) as s:
        rows = s.execute(query.order_by(CaseRow.closed_at)).all()
    newest = {r[0]: (r[1], r[2]) for r in rows}  # later verdicts replace earlier ones
    scores = np.array([v[0] for v in newest.values()], dtype=np.float64)
    labels = np.array([1 if v[1] == "fraud" else 0 for v in newest.values()], dtype=np.int64)
    return labels, scores


def measure_day(
    engine: Engine,
    version: str,
    day: date,
    *,
    baseline_days: int = 7,
    label_days: int = 30,
    psi_alert: float = 0.10,
    psi_retrain: float = 0.25,
) -> DayMeasures:
    """Drift and label-delayed performance of model ``version`` on ``day`` (UTC)."""
    start, end = _bounds(day)
    cur_scores, cur_amounts, cur_hours = _window(engine, version, start, end)
    ref_scores, ref_amounts, ref_hours = _window(
        engine, version, start - timedelta(days=baseline_days), start
    )
    report = drift(
        ref_scores,
        cur_scores,
        {"amount": ref_amounts, "hour": ref_hours},
        {"amount": cur_amounts, "hour": cur_hours},
        alert=psi_alert,
        retrain=psi_retrain,
    )
    labels, scores = _labelled(engine, version, end - timedelta(days=label_days), end)
    return DayMeasures(version, report, performance(labels, scores))


def versions_seen(engine: Engine, day: date) -> list[str]:
    """Model versions that decided live on ``day`` (besides the one live now)."""
    start, end = _bounds(day)
    query = (
        select(DecisionRow.model_version)
        .where(
            DecisionRow.mode == "live",
            DecisionRow.ml_score.is_not(None),
            DecisionRow.occurred_at >= start,
            DecisionRow.occurred_at < end,
        )
        .distinct()
    )
    with unit_of_work(engine, write=False) as s:
        return sorted(str(v) for v in s.scalars(query).all())
