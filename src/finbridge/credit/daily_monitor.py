"""The live credit models' daily monitor: PSI of the day's recorded scores against the sample
each model kept from its training data (``reference_scores_``), stored with its alerts.

Feature CSI needs the applicants' inputs, which score records do not keep (``stability`` over
a file of current applicants does that, on demand). Label-delayed performance waits for
default labels joined to scores: not wired yet, so a run says ``not_run``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import numpy as np
from sqlalchemy import select

from finbridge.core.principal import Principal
from finbridge.credit.registry import ModelRegistry
from finbridge.credit.tables import ScoreRow
from finbridge.lake.monitoring import MonitorRun, MonitorStore, Thresholds, drift
from finbridge.store.engine import unit_of_work


def monitor_live_models(
    registry: ModelRegistry,
    actor: Principal,
    store: MonitorStore,
    day: date,
    thresholds: Thresholds,
) -> list[MonitorRun]:
    """One run per live credit model for ``day`` (UTC); ``no_traffic`` when none scored."""
    actor.require_scope("credit:write")
    start = datetime.combine(day, time(), tzinfo=UTC)
    end = start + timedelta(days=1)
    runs = []
    for meta in registry.list_versions(actor):
        if meta.status != "live":
            continue
        query = select(ScoreRow.score).where(
            ScoreRow.model_version_id == meta.id,
            ScoreRow.created_at >= start,
            ScoreRow.created_at < end,
        )
        with unit_of_work(registry.engine, write=False) as s:
            scores = np.array(s.scalars(query).all(), dtype=np.float64)
        _, model = registry.load(meta.model_name, meta.version)
        reference = np.asarray(getattr(model, "reference_scores_", []), dtype=np.float64)
        report = drift(
            reference, scores, alert=thresholds.psi_alert, retrain=thresholds.psi_retrain
        )
        runs.append(
            store.record(
                actor,
                engine="credit",
                model=meta.model_name,
                version=str(meta.version),
                day=day,
                drift=report,
                performance=None,
                thresholds=thresholds,
            )
        )
    return runs
