"""Risk over HTTP: decisions, rule-set lifecycle, lists, cases, shadow comparison, problems."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from finbridge.core import ManualClock, Role, Settings
from finbridge.core.settings import RiskSettings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform
from finbridge.site import create_app


@pytest.fixture
def client(settings: Settings, sqlite_engine, clock: ManualClock) -> TestClient:
    settings = settings.with_changes(risk=RiskSettings(use_model=False))
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    secret = settings.secret_key.get_secret_value()
    key = ApiKeyService(sqlite_engine, clock, secret).issue("ana", [Role.RISK_ANALYST]).plaintext
    c = TestClient(create_app(platform=platform))
    c.headers["Authorization"] = f"Bearer {key}"
    return c


def _event(clock: ManualClock, **over: object) -> dict[str, object]:
    body: dict[str, object] = {
        "event_type": "transfer",
        "occurred_at": clock.now().isoformat(),
        "customer_id": "c-1",
        "amount": "250.00",
        "payee_id": "p-1",
        "device_id": "d-1",
    }
    body.update(over)
    return body


def test_decision_and_bad_input_problems(client: TestClient, clock: ManualClock) -> None:
    r = client.post("/v1/risk/decisions", json=_event(clock))
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "approve" and r.json()["rule_set"] == "baseline@v0"
    r = client.post("/v1/risk/decisions", json=_event(clock, amount=12.5))
    assert r.status_code == 422 and r.json()["field"] == "amount"
    r = client.post("/v1/risk/decisions", json=_event(clock, payee_id=None))
    assert r.status_code == 422
    r = client.post("/v1/risk/decisions", json={**_event(clock), "payee_id": None})
    assert r.status_code == 422
    anon = TestClient(client.app)
    assert anon.post("/v1/risk/decisions", json=_event(clock)).status_code == 401


def test_rule_set_lifecycle_cases_and_labels(client: TestClient, clock: ManualClock) -> None:
    bad = {"name": "x", "rules": [{"name": "r", "expression": "amount / customer_count_1d > 3"}]}
    r = client.post("/v1/risk/rule-sets/validate", json=bad)
    assert r.json()["valid"] is False and "division by zero" in r.json()["problems"][0]["message"]
    r = client.post("/v1/risk/rule-sets", json=bad)
    assert r.status_code == 422 and r.json()["field"] == "rules[0].expression"

    draft = {
        "name": "transfers",
        "rules": [{"name": "big", "expression": "amount >= 200", "weight": 40, "reason": "big"}],
        "bands": [{"min_score": 30, "outcome": "review"}],
    }
    r = client.post("/v1/risk/rule-sets", json=draft)
    assert r.status_code == 201, r.text
    set_id = r.json()["id"]
    for _ in range(3):
        client.post("/v1/risk/decisions", json=_event(clock))
        clock.advance(timedelta(minutes=1))
    r = client.post(f"/v1/risk/rule-sets/{set_id}/backtest")
    assert r.status_code == 200, r.text
    assert r.json()["draft"]["flagged"] == 3 and r.json()["live"]["flagged"] == 0

    assert client.post(f"/v1/risk/rule-sets/{set_id}/shadow").json()["status"] == "shadow"
    r = client.post("/v1/risk/decisions", json=_event(clock))
    assert r.json()["outcome"] == "approve" and r.json()["shadow"]["outcome"] == "review"
    cmp_ = client.get("/v1/risk/decisions/shadow-comparison").json()
    assert cmp_["matrix"] == {"approve": {"review": 1}} and cmp_["agreement"] == 0

    assert client.post(f"/v1/risk/rule-sets/{set_id}/promote").json()["status"] == "active"
    clock.advance(timedelta(minutes=1))
    r = client.post("/v1/risk/decisions", json=_event(clock))
    assert r.json()["outcome"] == "review" and r.json()["case_id"]
    case_id = r.json()["case_id"]

    queue = client.get("/v1/risk/cases").json()
    assert [c["id"] for c in queue] == [case_id] and queue[0]["overdue"] is False
    client.post(f"/v1/risk/cases/{case_id}/assign", json={})
    client.post(f"/v1/risk/cases/{case_id}/notes", json={"body": "called the customer"})
    clock.advance(timedelta(hours=5))  # past the 4-hour SLA
    r = client.post(f"/v1/risk/cases/{case_id}/close", json={"resolution": "confirm"})
    body = r.json()
    assert body["status"] == "closed" and body["label"] == "fraud" and body["overdue"] is True
    assert body["notes"][0]["body"] == "called the customer"
    r = client.post(f"/v1/risk/cases/{case_id}/close", json={"resolution": "release"})
    assert r.status_code == 409


def test_lists_over_http(client: TestClient, clock: ManualClock) -> None:
    r = client.post(
        "/v1/risk/lists",
        json={"list_kind": "block", "entity_type": "payee", "value": "p-1",
              "reason": "mule account", "source": "case:1"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    entry_id = r.json()["id"]
    d = client.post("/v1/risk/decisions", json=_event(clock)).json()
    assert d["outcome"] == "decline"
    assert client.get("/v1/risk/lists").json()[0]["source"] == "case:1"
    assert client.delete(f"/v1/risk/lists/{entry_id}").status_code == 204
    assert client.delete(f"/v1/risk/lists/{entry_id}").status_code == 404


def test_models_endpoints(client: TestClient) -> None:
    assert client.get("/v1/risk/models").json() == {"live": None, "shadow": None}
    r = client.post("/v1/risk/models/promote-shadow")
    assert r.status_code == 409 and "no shadow model" in r.json()["detail"]
