"""PSI/CSI, label-delayed performance and alerts: values checked against definitions, and the
empty or one-class windows a monitor meets on a quiet day."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sqlalchemy import Engine

from finbridge.core.clock import ManualClock
from finbridge.core.errors import PermissionDenied, ValidationError
from finbridge.core.principal import Principal, Role
from finbridge.lake.monitoring import (
    NO_LABELS,
    NO_TRAFFIC,
    MonitorStore,
    Thresholds,
    drift,
    performance,
    psi,
)

RNG = np.random.default_rng(19)
REFERENCE = RNG.normal(0.0, 1.0, 5_000)


def test_psi_of_a_sample_against_itself_is_zero_and_grows_with_the_shift() -> None:
    assert psi(REFERENCE, REFERENCE) == pytest.approx(0.0, abs=1e-12)
    small = psi(REFERENCE, RNG.normal(0.2, 1.0, 5_000))
    large = psi(REFERENCE, RNG.normal(1.0, 1.0, 5_000))
    assert 0.01 < small < 0.10 < 0.25 < large


def test_psi_by_hand_on_categories() -> None:
    # expected 50/50, actual 80/20: (0.8-0.5)ln(0.8/0.5) + (0.2-0.5)ln(0.2/0.5)
    value = psi(np.array(["a", "b"] * 50), np.array(["a"] * 80 + ["b"] * 20))
    assert value == pytest.approx(0.3 * np.log(1.6) - 0.3 * np.log(0.4))


def test_a_window_without_traffic_says_so_and_divides_nothing() -> None:
    report = drift(REFERENCE, np.array([]), {"amount": REFERENCE}, {"amount": np.array([])})
    assert report.status == NO_TRAFFIC
    assert report.score_psi is None and report.feature_psi == {}
    assert drift(np.array([]), REFERENCE).status == NO_TRAFFIC  # no reference sample either


def test_drift_status_is_the_worst_of_score_and_features() -> None:
    shifted = RNG.normal(1.0, 1.0, 2_000)
    report = drift(REFERENCE, REFERENCE[:2_000], {"x": REFERENCE}, {"x": shifted})
    assert report.score_psi is not None and report.score_psi < 0.01
    assert report.feature_psi["x"] > 0.25
    assert report.status == "retrain"
    with pytest.raises(ValidationError, match="feature y"):
        drift(REFERENCE, REFERENCE, {"y": REFERENCE}, {})


def test_performance_matches_definitions_and_waits_for_both_classes() -> None:
    y = np.array([0, 0, 1, 1])
    perfect = performance(y, np.array([0.1, 0.2, 0.8, 0.9]))
    assert (perfect.auc, perfect.average_precision, perfect.ks) == (1.0, 1.0, 1.0)
    half = performance(y, np.array([0.1, 0.8, 0.2, 0.9]))
    assert half.auc == pytest.approx(0.75)
    assert half.ks == pytest.approx(0.5)
    assert performance(np.array([0, 0]), np.array([0.1, 0.2])).status == NO_LABELS
    assert performance(np.array([]), np.array([])).status == NO_LABELS
    with pytest.raises(ValidationError, match="0 or 1"):
        performance(np.array([0, 2]), np.array([0.1, 0.2]))


def test_runs_are_stored_once_per_day_with_their_alerts(engine: Engine, clock: ManualClock) -> None:
    from sqlalchemy import select

    from finbridge.lake.tables import OutboxRow
    from finbridge.store.engine import unit_of_work

    store = MonitorStore(engine, clock)
    risk_admin = Principal.operator("op-1", [Role.ADMIN])
    day = date(2026, 12, 1)
    limits = Thresholds(min_auc=0.9, min_ks=0.6)
    shifted = drift(REFERENCE, RNG.normal(1.0, 1.0, 1_000))
    perf = performance(np.array([0, 0, 1, 1]), np.array([0.1, 0.8, 0.2, 0.9]))
    kwargs = {"engine": "risk", "model": "fraud", "version": "v1", "day": day}
    first = store.record(risk_admin, **kwargs, drift=shifted, performance=perf, thresholds=limits)
    assert {a["metric"] for a in first.alerts} == {"score_psi", "auc", "ks"}
    # The day run again (a resumed close of business): the same crossings are not raised twice.
    rerun = store.record(risk_admin, **kwargs, drift=shifted, performance=perf, thresholds=limits)
    assert rerun.alerts == first.alerts
    quiet = drift(REFERENCE, np.array([]))
    again = store.record(risk_admin, **kwargs, drift=quiet, performance=None, thresholds=limits)
    assert again.status == NO_TRAFFIC and again.alerts == []
    runs = store.history(risk_admin, engine="risk")
    assert [(r.day, r.status) for r in runs] == [(day, NO_TRAFFIC)]  # replaced, not added
    with unit_of_work(engine, write=False) as s:
        types = s.scalars(select(OutboxRow.event_type)).all()
    assert types.count("monitoring.alert") == 3

    teller = Principal.operator("op-2", [Role.TELLER])
    with pytest.raises(PermissionDenied):
        store.history(teller, engine="risk")
    with pytest.raises(ValidationError, match="engine"):
        store.history(risk_admin, engine="quant")
