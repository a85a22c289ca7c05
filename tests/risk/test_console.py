"""Console: rule editor validation, drafts, backtest chart, shadow, case queue actions."""

from __future__ import annotations

import json
from datetime import timedelta

from fastapi.testclient import TestClient

from finbridge.api import create_app
from finbridge.core import ManualClock, Role, Settings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform

HX = {"HX-Request": "true"}


def test_risk_console_pages(settings: Settings, sqlite_engine, clock: ManualClock, monkeypatch):
    monkeypatch.setenv("FINBRIDGE_RISK_USE_MODEL", "false")
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    secret = settings.secret_key.get_secret_value()
    key = ApiKeyService(sqlite_engine, clock, secret).issue("ana", [Role.RISK_ANALYST]).plaintext
    client = TestClient(create_app(platform=platform))
    assert client.post("/console/login", data={"api_key": key}, headers=HX).status_code == 204
    page = client.get("/console/risk")
    assert page.status_code == 200 and "baseline@v0" in page.text and "Rule editor" in page.text

    bad = {"name": "x", "rules": [{"name": "r", "expression": "amount > nope", "weight": 5}]}
    r = client.post("/console/risk/validate", data={"body": json.dumps(bad)}, headers=HX)
    assert "unknown feature &#39;nope&#39;" in r.text
    r = client.post("/console/risk/validate", data={"body": "{not json"}, headers=HX)
    assert "not valid JSON" in r.text

    draft = {
        "name": "big",
        "rules": [{"name": "big", "expression": "amount > 100", "weight": 40, "reason": "big"}],
        "bands": [{"min_score": 30, "outcome": "review"}],
    }
    r = client.post("/console/risk/drafts", data={"body": json.dumps(draft)}, headers=HX)
    assert "Saved draft big@v1" in r.text
    set_id = client.get("/v1/risk/rule-sets", headers={"Authorization": f"Bearer {key}"}).json()
    set_id = set_id[0]["id"]

    api = {"Authorization": f"Bearer {key}"}
    for i in range(4):
        body = {"event_type": "withdrawal", "occurred_at": clock.now().isoformat(),
                "customer_id": f"c{i}", "amount": "500"}  # fmt: skip
        assert client.post("/v1/risk/decisions", json=body, headers=api).status_code == 200
        clock.advance(timedelta(minutes=1))
    r = client.post(f"/console/risk/rule-sets/{set_id}/backtest", headers=HX)
    assert r.status_code == 200 and "risk-backtest-chart" in r.text and "data-echarts" in r.text
    r = client.post(f"/console/risk/rule-sets/{set_id}/promote", headers=HX)
    assert "active" in r.text
    body = {"event_type": "withdrawal", "occurred_at": clock.now().isoformat(),
            "customer_id": "c9", "amount": "500"}  # fmt: skip
    case_id = client.post("/v1/risk/decisions", json=body, headers=api).json()["case_id"]
    page = client.get("/console/risk")
    assert case_id[:8] in page.text
    r = client.post(f"/console/risk/cases/{case_id}/confirm", headers=HX)
    assert "The review queue is empty" in r.text
