"""The fraud model's daily monitor over the decision history: drift against the model's own
baseline, label-delayed performance from analysts' verdicts, and a day without traffic."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from finbridge.core import ManualClock, Principal
from finbridge.core.settings import RiskSettings
from finbridge.lake.monitoring import NO_TRAFFIC, MonitorStore, Thresholds
from finbridge.risk import RiskService
from finbridge.risk.decisions import DecisionMaker

from .conftest import payment, tick
from .registry_support import tiny_model


def test_daily_monitor_drift_labels_and_a_quiet_day(
    risk: DecisionMaker, engine: Engine, clock: ManualClock, analyst: Principal,
    system: Principal, tmp_path: Path,
) -> None:  # fmt: skip
    risk.use_model(tiny_model("tiny-live"))
    service = RiskService(engine, clock, RiskSettings(), data_dir=tmp_path, decisions=risk)
    store = MonitorStore(engine, clock)
    clock.set(datetime(2026, 11, 2, 1, 0, tzinfo=UTC))
    day1 = clock.now().date()

    # A model with no traffic yet: said, not computed, no alert, no error.
    (quiet,) = service.monitor(analyst, store, day1)
    assert (quiet.version, quiet.status, quiet.n_current) == ("tiny-live", NO_TRAFFIC, 0)
    assert quiet.score_psi is None and quiet.alerts == []

    for i in range(40):  # day 1: small card payments (the baseline)
        risk.decide(system, payment(clock, customer_id=f"c{i}", amount=f"{20 + i}.00"))
        tick(clock, 60)
    clock.set(datetime(2026, 11, 3, 1, 0, tzinfo=UTC))
    day2 = clock.now().date()
    for i in range(40):  # day 2: large ones, from other customers
        risk.decide(system, payment(clock, customer_id=f"d{i}", amount=f"{400 + 5 * i}.00"))
        tick(clock, 60)
    cases = service.cases.queue(analyst, limit=100)
    for n, case in enumerate(cases):
        service.cases.close(analyst, case.id, "confirm" if n % 2 else "release")

    (run,) = service.monitor(analyst, store, day2, thresholds=Thresholds(min_auc=0.99))
    assert run.n_current == 40 and run.n_reference == 40
    assert run.score_psi is not None and run.feature_psi["amount"] > 0.25
    assert run.status == "retrain"
    assert "feature_psi:amount" in {a["metric"] for a in run.alerts}
    perf = run.performance
    assert perf["n_labelled"] == len(cases)
    if len(cases) >= 2:
        assert perf["status"] == "ok" and perf["auc"] is not None
    # Labels known later do not rewrite the past: day 1's performance saw none of them.
    (earlier,) = service.monitor(analyst, store, day1)
    assert earlier.performance["n_labelled"] == 0
    assert [r.day for r in store.history(analyst, engine="risk")] == [day1, day2]
