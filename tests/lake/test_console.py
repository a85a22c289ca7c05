"""The console's event lake page: browse, filter, upload and read a rejection report."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from finbridge.core import ManualClock, Role, Settings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.lake import Event, EventLake
from finbridge.platform import Platform
from finbridge.site import create_app

from .conftest import T0, card_payload

HX = {"HX-Request": "true"}


@pytest.fixture
def console(settings: Settings, sqlite_engine: Engine, clock: ManualClock) -> Iterator[TestClient]:
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    EventLake(platform.lake_dir).append(
        [Event("card.transaction", T0, card_payload("x1", "c9", "4.20"), "t", "c9").validated()],
        batch="console",
    )
    keys = ApiKeyService(sqlite_engine, clock, settings.secret_key.get_secret_value())
    key = keys.issue("ops", [Role.ADMIN]).plaintext
    with TestClient(create_app(platform=platform)) as client:
        response = client.post("/console/login", data={"api_key": key}, headers=HX)
        assert response.status_code == 204, response.text
        yield client


def test_page_lists_events_and_filters_by_fragment(console: TestClient) -> None:
    page = console.get("/console/lake")
    assert page.status_code == 200
    assert "Event lake" in page.text and "transaction_id=<b>x1</b>" in page.text
    assert 'href="/console/lake"' in page.text  # in the navigation
    fragment = console.get(
        "/console/lake", params={"type": "login"}, headers={**HX, "HX-Target": "events"}
    )
    assert "<html" not in fragment.text and "No events match." in fragment.text
    bad = console.get("/console/lake", params={"since": "yesterday"})
    assert bad.status_code == 200 and 'class="error"' in bad.text


def test_upload_shows_the_report_and_it_can_be_reopened(console: TestClient) -> None:
    good = {
        "id": "u1",
        "event_type": "news.read",
        "schema_version": 1,
        "occurred_at": "2026-11-01T09:00:00+08:00",
        "payload": {"article_id": "n-1"},
    }
    data = json.dumps(good) + "\n" + json.dumps({**good, "id": "u2", "schema_version": 9})
    response = console.post(
        "/console/lake/ingest",
        headers=HX,
        files={"file": ("news.jsonl", data.encode())},
        data={"source": "newsdesk"},
    )
    assert response.status_code == 200
    assert "1 accepted" in response.text and "1 rejected" in response.text
    assert "schema_version" in response.text and "no schema version 9" in response.text
    page = console.get("/console/lake")
    assert "newsdesk" in page.text
    ingestion_id = page.text.split("/console/lake/ingestions/")[1].split('"')[0]
    report = console.get(f"/console/lake/ingestions/{ingestion_id}", headers=HX)
    assert "no schema version 9" in report.text
    missing = console.get("/console/lake/ingestions/nope", headers=HX)
    assert "no ingestion nope" in missing.text


def test_upload_without_htmx_is_refused(console: TestClient) -> None:
    response = console.post("/console/lake/ingest", files={"file": ("a.jsonl", b"{}")})
    assert response.status_code in (400, 403)
