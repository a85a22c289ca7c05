"""Console pages: builder with audience size, results with lift and Qini chart, preview, profile."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from tests.acquisition.conftest import SYSTEM, new_customer, read_news
from tests.api.conftest import issue_key
from tests.web.conftest import HX, log_in

from finbridge.acquisition import FINANCE_BREAKFAST
from finbridge.core import Role
from finbridge.platform import Platform
from finbridge.site import create_app

ORIGIN = {**HX, "Origin": "http://testserver"}


def test_console_flow(sqlite_platform: Platform) -> None:
    p = sqlite_platform
    reader = new_customer(p, "reader", deposit="5.00")
    read_news(p, reader, datetime(2020, 11, 30, 23, 40, tzinfo=UTC))
    read_news(p, reader, datetime(2020, 12, 1, 23, 40, tzinfo=UTC))
    p.clock.set(datetime(2020, 12, 2, 12, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    p.acquisition.refresh_profiles(SYSTEM)
    p.acquisition.save_creative(SYSTEM, "fb", FINANCE_BREAKFAST)
    client = TestClient(create_app(platform=p))
    log_in(client, issue_key(p, [Role.MARKETER]))

    page = client.get("/console/acquisition")
    assert page.status_code == 200 and "Campaign builder" in page.text
    size = client.post(
        "/console/acquisition/audience-size", data={"audience": "news_reads > 1"}, headers=ORIGIN
    )
    assert "1 of 1 consenting" in size.text
    bad = client.post(
        "/console/acquisition/audience-size", data={"audience": "wealth > 1"}, headers=ORIGIN
    )
    assert bad.status_code == 422 and "wealth" in bad.text
    form = {
        "name": "fb",
        "audience": "news_reads > 1",
        "creative": "fb",
        "schedule_kind": "send_time",
        "holdout_share": "0.05",
    }
    saved = client.post("/console/acquisition/campaigns", data=form, headers=ORIGIN)
    assert saved.status_code == 200, saved.text
    campaign_id = re.search(r"/console/acquisition/campaigns/([\w-]+)", saved.text).group(1)  # type: ignore[union-attr]
    p.acquisition.schedule(SYSTEM, campaign_id, datetime(2020, 12, 3).date())
    results = client.get(f"/console/acquisition/campaigns/{campaign_id}")
    assert results.status_code == 200 and "Qini curve" in results.text
    option = json.loads(re.search(r"data-echarts='([^']+)'", results.text).group(1))  # type: ignore[union-attr]
    assert option["series"][1]["name"] == "random"
    preview = client.post(
        "/console/acquisition/preview",
        data={"creative": "fb", "locale": "en", "customer_id": reader},
        headers=ORIGIN,
    )
    assert "Finance breakfast" in preview.text and "5.00" in preview.text
    profile = client.get("/console/acquisition/profile", params={"customer_id": reader})
    assert (
        profile.status_code == 200
        and "news_reads" in profile.text
        and "Next-best offers" in profile.text
    )


def test_console_needs_the_scope(sqlite_platform: Platform) -> None:
    client = TestClient(create_app(platform=sqlite_platform))
    log_in(client, issue_key(sqlite_platform, [Role.TELLER]))
    assert client.get("/console/acquisition").status_code == 403
