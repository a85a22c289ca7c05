"""The learning loop's jobs across engines: the daily monitors and the fraud model's retraining.

The lake's monitor store is shared by credit and risk; this module is the one place that runs
both engines' monitors with the settings' thresholds and reads the retraining job's settings,
so the CLI, the API and the console each call one function. :func:`learning_steps` puts them
in the close of business: the day's monitors every day, a retraining turn on its cadence.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from finbridge.core.errors import FinbridgeError, ValidationError
from finbridge.core.principal import Principal

if TYPE_CHECKING:  # NumPy and Polars load when a job runs, not with the platform
    from finbridge.lake.monitoring import MonitorRun, MonitorStore, Thresholds
    from finbridge.lending import CobStep
    from finbridge.platform._root import Platform
    from finbridge.risk.learning import LabelledHistory, TurnResult


def monitor_store(platform: Platform) -> MonitorStore:
    """The platform's monitor runs (cheap: a store over the platform's database)."""
    from finbridge.lake.monitoring import MonitorStore

    return MonitorStore(platform.engine, platform.clock)


def thresholds(platform: Platform) -> Thresholds:
    from finbridge.lake.monitoring import Thresholds

    m = platform.settings.monitoring
    return Thresholds(
        psi_alert=m.psi_alert, psi_retrain=m.psi_retrain, min_auc=m.min_auc,
        min_average_precision=m.min_average_precision, min_ks=m.min_ks,
    )  # fmt: skip


def run_monitors(
    platform: Platform,
    actor: Principal,
    day: date,
    *,
    engines: tuple[str, ...] = ("risk", "credit"),
) -> list[MonitorRun]:
    """``day``'s monitor of every live model of ``engines`` (idempotent: a rerun replaces)."""
    store, limits = monitor_store(platform), thresholds(platform)
    m = platform.settings.monitoring
    runs: list[MonitorRun] = []
    if "risk" in engines:
        runs += platform.risk.monitor(
            actor, store, day, thresholds=limits, baseline_days=m.baseline_days,
            label_days=m.label_days,
        )  # fmt: skip
    if "credit" in engines:
        runs += platform.credit.monitor(actor, store, day, limits)
    return runs


def retrain_fraud_model(
    platform: Platform,
    actor: Principal,
    *,
    as_of: datetime | None = None,
    history: LabelledHistory | None = None,
    data: Path | None = None,
    margin: float | None = None,
    source: Literal["data", "decisions"] = "data",
) -> TurnResult:
    """One turn of the fraud model's loop with the settings' windows and margin, on
    ``history``, else on the feature store, from ``source``:

    - ``data``: the handbook-layout file ``data`` (default: ``monitoring.retrain_data``) has
      its payments' features materialised as of the turn into the store's fraud view, and its
      labels (known one feedback delay after each payment) are joined with them point in time;
    - ``decisions``: the platform's own live decisions, their features replayed from the
      stored requests into the same view, their verdicts (cases, chargebacks, silence past the
      feedback delay) as known at the turn (``RiskService.decision_history``)."""
    from finbridge.risk.learning import FeatureStoreHistory, HandbookHistory, RetrainPolicy

    m = platform.settings.monitoring
    actor.require_scope("risk:write")  # before any file is read
    policy = RetrainPolicy(
        history_days=m.retrain_history_days, eval_days=m.retrain_eval_days,
        label_delay_days=m.label_delay_days,
        margin=m.retrain_margin if margin is None else margin,
    )  # fmt: skip
    data = data or m.retrain_data
    when = as_of or platform.clock.now()
    if history is None and source == "decisions":
        store = platform.features.store
        own = platform.risk.decision_history(store, label_delay_days=m.label_delay_days)
        own.publish(until=when)
        history = own
    if history is None:
        if data is None:
            raise ValidationError(
                "no labelled history configured: set FINBRIDGE_MONITORING__RETRAIN_DATA",
                field="retrain_data",
            )
        handbook = HandbookHistory.from_file(data, label_delay_days=m.label_delay_days)
        store = platform.features.store
        handbook.publish(store, until=when)
        history = FeatureStoreHistory(store, handbook.labels())
    return platform.risk.retrain(actor, history, as_of=when, policy=policy)


def monitor_replay(
    platform: Platform, actor: Principal, data: Path, *, shift: timedelta = timedelta(0)
) -> list[MonitorRun]:
    """Monitor days of the live fraud model from a labelled handbook-layout file of payments
    that did not pass the decision engine (the demo's seeded card payments), moved by
    ``shift``; stored like live runs with the settings' thresholds."""
    from finbridge.risk.learning import HandbookHistory

    actor.require_scope("risk:write")
    delay = platform.settings.monitoring.label_delay_days
    history = HandbookHistory.from_file(data, label_delay_days=delay)
    return platform.risk.monitor_replay(
        actor, monitor_store(platform), history, shift=shift, thresholds=thresholds(platform),
        label_delay_days=delay,
    )  # fmt: skip


_COB = Principal.system("learning")


def retrain_due(every_days: int, day: date) -> bool:
    """The cadence: days whose ordinal is a multiple of ``every_days`` (7: every Sunday);
    fixed by the calendar, so a missed day caught up later keeps its turn and no other."""
    return every_days > 0 and day.toordinal() % every_days == 0


def learning_steps(platform: Platform) -> list[CobStep]:
    """The learning loop's close-of-business steps, each idempotent for its business date:

    - ``learning.monitor``: every live model's monitor of the day (a rerun replaces the day's
      runs, so nothing is counted twice);
    - ``learning.retrain``: on retraining days, one turn of the fraud model's loop as of the
      day's end (UTC, like the monitors' days), from ``monitoring.retrain_source`` (the labelled
      file, or the platform's own live decisions); a turn already registered for that instant is
      not run again. A turn that cannot run (no labelled history configured, no frauds in a
      window) is reported in the step's result and the bank's day goes on: the model that
      decides stays as it was.
    """
    from finbridge.lending import FunctionStep

    def monitor(day: date) -> dict[str, Any]:
        runs = run_monitors(platform, _COB, day)
        alerts = sum(len(r.alerts) for r in runs)
        return {"runs": len(runs), "alerts": alerts,
                "models": sorted({f"{r.engine}:{r.version}" for r in runs})}  # fmt: skip

    def retrain(day: date) -> dict[str, Any]:
        m = platform.settings.monitoring
        if not retrain_due(m.retrain_every_days, day):
            return {"skipped": f"not a retraining day (every {m.retrain_every_days} days)"}
        if m.retrain_source == "data" and m.retrain_data is None:
            return {"skipped": "no labelled history configured (monitoring.retrain_data)"}
        as_of = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
        # RiskService.retrain names a turn's challenger after its as_of (UTC date).
        prefix = f"retrain-{as_of:%Y%m%d}-"
        done = [v.version for v in platform.risk.registered_models(_COB)
                if v.version.startswith(prefix)]  # fmt: skip
        if done:
            return {"skipped": "already retrained", "challenger": done[0]}
        try:
            turn = retrain_fraud_model(platform, _COB, as_of=as_of, source=m.retrain_source)
        except FinbridgeError as exc:
            return {"failed": str(exc), "field": exc.field}
        return {"challenger": turn.challenger.version, "promoted": turn.promote,
                "reason": turn.reason}  # fmt: skip

    return [FunctionStep("learning.monitor", monitor), FunctionStep("learning.retrain", retrain)]
