"""The console's event catalogue and data-quality pages (release and discard included)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from finbridge.core import ManualClock, Role, Settings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.lake import Event
from finbridge.platform import Platform
from finbridge.site import create_app

from .conftest import T0, card_payload

HX = {"HX-Request": "true"}


@pytest.fixture
def console(settings: Settings, sqlite_engine: Engine, clock: ManualClock) -> Iterator[TestClient]:
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    lake = platform.events.lake
    lake.append(
        [Event("card.transaction", T0, card_payload("x1", "c9", "4.20"), "t", "c9").validated()],
        batch="console",
    )
    late = clock.now() + timedelta(days=3)
    lake.append(
        [Event("card.transaction", late, card_payload("x2", "c9", "1.00"), "t", "c9").validated()],
        batch="skewed",
    )
    keys = ApiKeyService(sqlite_engine, clock, settings.secret_key.get_secret_value())
    key = keys.issue("ops", [Role.ADMIN]).plaintext
    with TestClient(create_app(platform=platform)) as client:
        response = client.post("/console/login", data={"api_key": key}, headers=HX)
        assert response.status_code == 204, response.text
        yield client


def test_catalogue_page_lists_types_counts_and_versions(console: TestClient) -> None:
    page = console.get("/console/lake/catalogue")
    assert page.status_code == 200
    assert 'href="/console/lake/catalogue"' in page.text  # in the navigation
    row = page.text.split('href="/console/lake?type=card.transaction"')[1].split("</tr>")[0]
    assert "v1 (1)" in row and '<td class="num">1</td>' in row
    assert 'id="versions"' in page.text and "WRITE" in page.text


def test_quality_page_shows_reasons_and_an_operator_releases(console: TestClient) -> None:
    page = console.get("/console/lake/quality")
    assert page.status_code == 200
    assert "passed: 1" in page.text and "quarantined: 1" in page.text
    assert "occurred_at" in page.text  # the reason names the field
    batch_id = page.text.split("/console/lake/quality/batches/")[1].split('"')[0]
    rows = console.get(f"/console/lake/quality/batches/{batch_id}", headers=HX)
    assert rows.status_code == 200 and "card.transaction" in rows.text
    empty_note = console.post(
        f"/console/lake/quality/batches/{batch_id}/discard", data={"note": ""}, headers=HX
    )
    assert "say why" in empty_note.text
    released = console.post(
        f"/console/lake/quality/batches/{batch_id}/release",
        data={"note": "partner clock skew"},
        headers=HX,
    )
    assert released.status_code == 200
    assert "released by" in released.text and "partner clock skew" in released.text
    catalogue = console.get("/console/lake/catalogue")
    assert "v1 (2)" in catalogue.text
    missing = console.get("/console/lake/quality/batches/nope", headers=HX)
    assert missing.status_code == 404
