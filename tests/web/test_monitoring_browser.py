"""The model-monitoring page in headless Chromium: ECharts drawn from stored runs, the latest
run per model, alerts, and an action answered in place (a rollback with nothing to undo)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sqlalchemy import Engine
from tests.browser_support import console_page, open_chromium, serve

from finbridge.core import ManualClock, Principal, Role, Settings
from finbridge.core.settings import RiskSettings
from finbridge.lake.monitoring import Thresholds, drift, performance
from finbridge.platform import Platform, monitor_store

pytestmark = pytest.mark.browser


def test_monitoring_page_in_chromium(settings: Settings, sqlite_engine: Engine,
                                     clock: ManualClock) -> None:  # fmt: skip
    platform = Platform(
        settings=settings.with_changes(risk=RiskSettings(use_model=False)),
        engine=sqlite_engine, clock=clock,
    )  # fmt: skip
    store = monitor_store(platform)
    system = Principal.system("test")
    rng = np.random.default_rng(1)
    reference = rng.normal(0, 1, 2_000)
    labels = np.array([0] * 90 + [1] * 10)
    for i, shift in enumerate((0.0, 0.1, 0.9)):  # the third day drifts
        store.record(
            system, engine="risk", model="fraud", version="lgbm-a", day=date(2026, 11, 1 + i),
            drift=drift(reference, rng.normal(shift, 1, 500)),
            performance=performance(labels, labels * 0.5 + rng.random(100)),
            thresholds=Thresholds(),
        )  # fmt: skip
    key = platform.api_keys.issue("browser admin", [Role.ADMIN]).plaintext
    errors: list[str] = []

    with serve(platform) as base, open_chromium() as browser:
        page = console_page(browser, base, key, errors)
        page.click("nav >> text=Monitoring")
        page.wait_for_url(f"{base}/console/monitoring")
        page.wait_for_selector("#psi-chart canvas")
        page.wait_for_selector("#auc-chart canvas")
        row = page.locator("#latest-runs tbody tr")
        assert row.count() == 1 and "2026-11-03" in row.inner_text()
        assert "retrain" in row.inner_text()
        assert "score_psi" in page.inner_text("#alerts")
        assert page.inner_text("#live-model") == "none (rules only)"
        page.click("button:has-text('Roll back last promotion')")
        page.wait_for_selector("#monitoring-error")
        assert "no promotion to roll back" in page.inner_text("#monitoring-error")
        page.wait_for_selector("#psi-chart canvas")  # the swapped fragment draws again
        # The platform's own decisions as the training set: none here, said in place.
        page.click("button:has-text('Retrain from live decisions')")
        page.wait_for_selector("#monitoring-error >> text=labelled frauds")
        assert not errors, errors
