"""The risk shadow page in headless Chromium: the live vs shadow chart really renders."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from tests.browser_support import console_page, open_chromium, serve

from finbridge.core import ManualClock, Role, Settings
from finbridge.core.settings import RiskSettings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform

pytestmark = pytest.mark.browser


def test_shadow_chart_renders_in_chromium(
    settings: Settings, sqlite_engine, clock: ManualClock
) -> None:

    settings = settings.with_changes(risk=RiskSettings(use_model=False))
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    secret = settings.secret_key.get_secret_value()
    key = ApiKeyService(sqlite_engine, clock, secret).issue("ana", [Role.RISK_ANALYST]).plaintext
    draft = {
        "name": "big",
        "rules": [{"name": "big", "expression": "amount > 100", "weight": 40}],
        "bands": [{"min_score": 30, "outcome": "review"}],
    }
    errors: list[str] = []
    with serve(platform) as base, httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {key}"}
    ) as api:  # fmt: skip
        set_id = api.post("/v1/risk/rule-sets", json=draft).json()["id"]
        assert api.post(f"/v1/risk/rule-sets/{set_id}/shadow").status_code == 200
        for i in range(3):
            body = {"event_type": "withdrawal", "occurred_at": clock.now().isoformat(),
                    "customer_id": f"c{i}", "amount": "500"}  # fmt: skip
            assert api.post("/v1/risk/decisions", json=body).status_code == 200
            clock.advance(timedelta(days=1))
        with open_chromium() as browser:
            page = console_page(browser, base, key, errors, "/console/risk/shadow")
            page.wait_for_selector("#risk-shadow-chart[data-rendered='true'] canvas")
            box = page.locator("#risk-shadow-chart canvas").first.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 100
            series = page.evaluate(
                "echarts.getInstanceByDom(document.getElementById('risk-shadow-chart'))"
                ".getOption().series.map(s => s.data)"
            )
            assert series == [[0, 0, 0], [1, 1, 1]]  # three days: live approves, shadow flags
            assert "big@v1" in page.inner_text("#risk-shadow-models")
    assert errors == []
