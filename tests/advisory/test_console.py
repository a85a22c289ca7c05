"""The console's advisory pages: catalogue, questionnaire, portfolios (HTMX), evidence search."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.advisory.conftest import BALANCED
from tests.api.conftest import issue_key
from tests.web.conftest import log_in

from finbridge.advisory import ModelReport
from finbridge.core import ManualClock, Principal, Role, Settings
from finbridge.platform import Platform
from finbridge.site import create_app

HX = {"HX-Request": "true"}
SYSTEM = Principal.system("test")


def test_console_pages(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock, small_models: ModelReport
) -> None:
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    platform.advisory.use_models(small_models)
    client = TestClient(create_app(platform=platform))
    assert client.get("/console/advisory", follow_redirects=False).status_code in (302, 303, 307)
    log_in(client, issue_key(platform, [Role.ADMIN]))

    page = client.get("/console/advisory")
    assert page.status_code == 200
    assert 'href="/console/advisory"' in page.text  # in the navigation
    assert "FB-USD-DEP" in page.text and "SSO" in page.text and "R5" in page.text
    assert "2026-12-v1" in page.text and "您的年龄是？" in page.text
    assert 'hx-get="/console/advisory/portfolios"' in page.text

    models = client.get("/console/advisory/portfolios", headers=HX)
    assert models.status_code == 200 and "data-echarts" in models.text
    assert "60/40" in models.text and "<strong>yes</strong>" in models.text
    assert 'id="advisory-turnover-limit"' in models.text and "at most 50% one-way" in models.text
    assert "largest rebalance" in models.text

    customer = platform.banking.create_customer(SYSTEM, kind="personal", display_name="Ada").id
    platform.advisory.submit_profile(SYSTEM, customer, BALANCED)
    platform.advisory.check_suitability(SYSTEM, customer, "AGG")
    platform.advisory.check_suitability(SYSTEM, customer, "EEM")
    full = client.get("/console/advisory/evidence")
    assert full.status_code == 200 and "AGG" in full.text and "EEM" in full.text
    only = client.get(
        "/console/advisory/evidence", params={"outcome": "warning_required"}, headers=HX
    )
    assert only.status_code == 200 and "EEM" in only.text and "AGG" not in only.text
    assert "<html" not in only.text  # a fragment
    report = client.get("/console/advisory/report")
    assert report.status_code == 200 and "<svg" in report.text
