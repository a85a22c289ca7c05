"""The overview page on real seeded data (server-rendered; the chart itself: test_browser.py)."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from tests.web.conftest import HX, log_in

from finbridge.core import Role
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform
from finbridge.site import create_app


def _key(platform: Platform, role: Role) -> str:
    secret = platform.settings.secret_key.get_secret_value()
    return ApiKeyService(platform.engine, platform.clock, secret).issue("op", [role]).plaintext


def test_overview_shows_customers_deposits_volume_and_events(seeded_platform: Platform) -> None:
    client = TestClient(create_app(platform=seeded_platform))
    log_in(client, _key(seeded_platform, Role.ADMIN))
    page = client.get("/console")
    assert page.status_code == 200
    html = page.text
    customers = re.search(r'id="card-customers">.*?class="value">([\d,]+)<', html, re.S)
    assert customers is not None and customers.group(1) == "40"
    assert "TWD" in html
    option = re.search(r"data-echarts='([^']+)'", html)
    assert option is not None
    chart = json.loads(option.group(1).replace("&#34;", '"').replace("&amp;", "&"))
    days = chart["xAxis"]["data"]
    # the replayed 21 Taipei days of card payments span 22 UTC dates (the lake partitions by UTC)
    assert len(days) == 22
    assert sum(chart["series"][0]["data"]) > 500
    assert chart["series"][1]["name"] == "amount TWD"
    assert all(isinstance(v, str) for v in chart["series"][1]["data"])  # no floats for money
    assert "transaction.posted" in html
    assert "No partner file had rejected rows." in html


def test_verify_ledger_fragment(seeded_platform: Platform) -> None:
    client = TestClient(create_app(platform=seeded_platform))
    log_in(client, _key(seeded_platform, Role.ADMIN))
    fragment = client.post("/console/ledger/verify", headers=HX)
    assert fragment.status_code == 200
    assert 'id="ledger-ok"' in fragment.text
    assert "<html" not in fragment.text


def test_panels_are_refused_by_scope_not_hidden_errors(web_platform: Platform) -> None:
    client = TestClient(create_app(platform=web_platform))
    log_in(client, _key(web_platform, Role.PARTNER))  # events only: no accounts:read
    page = client.get("/console")
    assert page.status_code == 200
    assert "lacks scope &#39;accounts:read&#39;" in page.text
    verify = client.post("/console/ledger/verify", headers=HX)
    assert "lacks scope" in verify.text


def test_overview_lists_ingestion_rejections(web_platform: Platform) -> None:
    from finbridge.core import Principal
    from finbridge.lake import EventLake, EventService

    good = {
        "event_type": "app.opened",
        "schema_version": 1,
        "occurred_at": "2026-11-01T08:00:00+00:00",
        "subject_id": "c-1",
        "payload": {"app_version": "5.1.0", "platform": "android"},
    }
    bad = {**good, "payload": {"app_version": "5.1.0", "platform": "symbian"}}
    lines = "\n".join(json.dumps(row) for row in (good, bad, good | {"id": "x"})) + "\n"
    events = EventService(web_platform.engine, EventLake(web_platform.lake_dir), web_platform.clock)
    report = events.ingest(
        Principal.system("partner-feed"), lines.encode(), fmt="jsonl", filename="feed.jsonl"
    )
    assert report.rejected == 1
    client = TestClient(create_app(platform=web_platform))
    log_in(client, _key(web_platform, Role.ADMIN))
    html = client.get("/console").text
    table = re.search(r'<table class="grid" id="rejections">(.*?)</table>', html, re.S)
    assert table is not None
    assert "feed.jsonl" in table.group(1)
    assert "row 2 payload.platform" in table.group(1)
