"""The feature store's console page: views, a materialisation, refusals."""

from __future__ import annotations

from datetime import timedelta

from fastapi import FastAPI
from fastapi.testclient import TestClient

from finbridge.core import Principal, Role
from finbridge.identity import ApiKeyService
from finbridge.lake import Event
from finbridge.platform import Platform

from .conftest import HX, log_in


def test_views_materialise_and_show_rows_and_freshness(
    web_app: FastAPI, web_platform: Platform, admin_key: str, key_service: ApiKeyService
) -> None:
    now = web_platform.clock.now()
    cards = [
        Event(
            "card.transaction",
            now - timedelta(hours=i + 1),
            {
                "transaction_id": f"t{i}",
                "customer_id": f"c{i % 4}",
                "terminal_id": "T-1",
                "currency": "TWD",
                "amount": f"{100 + i}.00",
            },
            "partner",
            f"c{i % 4}",
        ).validated()
        for i in range(12)
    ]
    web_platform.events.lake.append(cards, batch="cards")
    with TestClient(web_app, base_url="https://testserver") as client:
        log_in(client, admin_key)
        page = client.get("/console/features")
        assert page.status_code == 200
        assert "card_spend v1" in page.text and "never materialised" in page.text
        done = client.post("/console/features/materialize", data={"view": "card_spend"}, headers=HX)
        assert done.status_code == 200 and "card_spend v1:" in done.text
        (status,) = [s for s in web_platform.features.status(Principal.system("t")) if s.last]
        assert status.last is not None and status.last.entities == 4 and status.last.rows == 12
        assert f">{status.last.rows}<" in done.text
        refused = client.post(
            "/console/features/materialize", data={"view": "spend_profile"}, headers=HX
        )
        assert "not the lake&#39;s events" in refused.text
    officer = key_service.issue("officer", [Role.CREDIT_OFFICER]).plaintext  # no events:read
    with TestClient(web_app, base_url="https://testserver") as client:
        log_in(client, officer)
        assert client.get("/console/features").status_code == 403
    teller = key_service.issue("teller", [Role.TELLER]).plaintext  # reads, may not materialise
    with TestClient(web_app, base_url="https://testserver") as client:
        log_in(client, teller)
        assert client.get("/console/features").status_code == 200
        denied = client.post(
            "/console/features/materialize", data={"view": "card_spend"}, headers=HX
        )
        assert "events:admin" in denied.text
