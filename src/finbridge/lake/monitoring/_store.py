"""Monitor runs stored per model and day, read back for the console, the API and alerts.

The engines compute what a run measures (they know their models and where their scores and
labels are); this store is the one place that records a run, raises its alerts as events and
answers who may read them (``<engine>:read``; recording needs ``<engine>:write``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, delete, select

from finbridge.core.clock import Clock
from finbridge.core.errors import ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal
from finbridge.lake.events import Event
from finbridge.lake.monitoring._measures import (
    Alert,
    DriftReport,
    Performance,
    Thresholds,
    alerts,
)
from finbridge.lake.monitoring.tables import MonitorRunRow
from finbridge.lake.outbox import emit
from finbridge.store.engine import unit_of_work

ENGINES = ("risk", "credit")


@dataclass(frozen=True, slots=True)
class MonitorRun:
    engine: str
    model: str
    version: str
    day: date
    status: str
    n_current: int
    n_reference: int
    score_psi: float | None
    feature_psi: dict[str, float]
    performance: dict[str, Any]
    alerts: list[dict[str, Any]]
    created_at: datetime

    @classmethod
    def of(cls, row: MonitorRunRow) -> MonitorRun:
        return cls(
            row.engine, row.model, row.version, row.day, row.status, row.n_current,
            row.n_reference, row.score_psi, dict(row.feature_psi), dict(row.performance),
            list(row.alerts), row.created_at,
        )  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "model": self.model,
            "version": self.version,
            "day": self.day.isoformat(),
            "status": self.status,
            "n_current": self.n_current,
            "n_reference": self.n_reference,
            "score_psi": self.score_psi,
            "feature_psi": self.feature_psi,
            "performance": self.performance,
            "alerts": self.alerts,
        }


def _check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise ValidationError(f"engine must be one of {', '.join(ENGINES)}", field="engine")
    return engine


class MonitorStore:
    """Record monitor runs (idempotent per model, version and day) and read their history."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def record(
        self,
        actor: Principal,
        *,
        engine: str,
        model: str,
        version: str,
        day: date,
        drift: DriftReport,
        performance: Performance | None,
        thresholds: Thresholds,
    ) -> MonitorRun:
        """Store one day's run (replacing an earlier run of the same day) and emit one
        ``monitoring.alert`` event per threshold crossed that the day's earlier run did not
        already raise, in the same transaction."""
        actor.require_scope(f"{_check_engine(engine)}:write")
        found: list[Alert] = alerts(drift, performance, thresholds)
        perf = performance.to_json() if performance is not None else {"status": "not_run"}
        now = self.clock.now()
        row = MonitorRunRow(
            id=new_id(), engine=engine, model=model, version=version, day=day,
            status=drift.status, n_current=drift.n_current, n_reference=drift.n_reference,
            score_psi=drift.score_psi, feature_psi=drift.to_json()["feature_psi"],
            performance=perf, alerts=[a.to_json() for a in found], created_at=now,
        )  # fmt: skip
        same_day = (
            MonitorRunRow.engine == engine,
            MonitorRunRow.model == model,
            MonitorRunRow.version == version,
            MonitorRunRow.day == day,
        )
        with unit_of_work(self.engine) as s:
            # A rerun of the day (the close of business resumed after a crash) says again only
            # what it finds anew: an alert already raised for the day is not raised twice.
            raised = {
                (a["metric"], a["level"])
                for alerts_of_run in s.scalars(select(MonitorRunRow.alerts).where(*same_day))
                for a in alerts_of_run
            }
            s.execute(delete(MonitorRunRow).where(*same_day))
            s.add(row)
            for alert in found:
                if (alert.metric, alert.level) in raised:
                    continue
                emit(
                    s,
                    Event(
                        event_type="monitoring.alert",
                        occurred_at=now,
                        source=engine,
                        subject_id=version,
                        payload={
                            "engine": engine, "model": model, "version": version,
                            "day": day.isoformat(), **alert.to_json(),
                        },
                    ),
                )  # fmt: skip
            run = MonitorRun.of(row)
        return run

    def history(
        self,
        actor: Principal,
        *,
        engine: str,
        model: str | None = None,
        since: date | None = None,
        limit: int = 400,
    ) -> list[MonitorRun]:
        """Runs of ``engine``'s models, oldest day first (``<engine>:read``)."""
        actor.require_scope(f"{_check_engine(engine)}:read")
        query = select(MonitorRunRow).where(MonitorRunRow.engine == engine)
        if model is not None:
            query = query.where(MonitorRunRow.model == model)
        if since is not None:
            query = query.where(MonitorRunRow.day >= since)
        query = query.order_by(MonitorRunRow.day.desc(), MonitorRunRow.created_at.desc())
        with unit_of_work(self.engine, write=False) as s:
            rows = s.scalars(query.limit(max(1, min(limit, 5000)))).all()
            runs = [MonitorRun.of(r) for r in rows]
        return sorted(runs, key=lambda r: (r.day, r.model, r.version))
