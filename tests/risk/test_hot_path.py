"""The decision endpoint's hot path (finbridge.api.hot) keeps the route's contract exactly.

After a key's first (fully routed) request, decisions are answered ahead of the framework; these
tests prove it answers on its own and that every answer matches what the route would give.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from finbridge.api import create_app
from finbridge.api.deps import api_keys
from finbridge.core import ManualClock, Role, Settings
from finbridge.platform import Platform

from .conftest import payment

DECISIONS = "/v1/risk/decisions"


@pytest.fixture
def app(settings: Settings, sqlite_engine, clock: ManualClock, monkeypatch) -> FastAPI:
    monkeypatch.setenv("FINBRIDGE_RISK_USE_MODEL", "false")
    small = settings.model_copy(update={"max_upload_bytes": 4096})
    return create_app(platform=Platform(settings=small, engine=sqlite_engine, clock=clock))


def _key(app: FastAPI, role: Role = Role.RISK_ANALYST) -> tuple[str, str]:
    issued = api_keys(app.state.platform).issue("ana", [role])
    return issued.key.id, issued.plaintext


def _without_routes(app: FastAPI) -> TestClient:
    """The app with its router emptied: only the hot path can still answer decisions."""
    app.router.routes.clear()
    return TestClient(app)


def test_hot_path_answers_without_the_router_once_the_key_is_verified(
    app: FastAPI, clock: ManualClock
) -> None:
    _, key = _key(app)
    auth = {"Authorization": f"Bearer {key}"}
    routed = TestClient(app).post(DECISIONS, json=payment(clock, event_id="e-1"), headers=auth)
    assert routed.status_code == 200, routed.text
    hot = _without_routes(app)
    assert hot.get("/v1/risk/rule-sets", headers=auth).status_code == 404  # router is gone
    again = hot.post(DECISIONS, json=payment(clock, event_id="e-1"), headers=auth)
    assert again.status_code == 200
    assert again.json() == routed.json()  # idempotent: the stored decision, same document
    fresh = hot.post(DECISIONS, json=payment(clock, event_id="e-2"), headers={"X-API-Key": key})
    assert fresh.status_code == 200 and set(fresh.json()) == set(routed.json())


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 422, "body"),
        (b"[1, 2]", 422, "body"),
        (b'{"event_type": "payment"}', 422, "occurred_at"),
        (b"{" + b'"pad": "' + b"x" * 5000 + b'"}', 413, None),
    ],
    ids=["malformed", "not-an-object", "missing-field", "too-large"],
)
def test_hot_path_problems_match_the_routed_ones(
    app: FastAPI, clock: ManualClock, body: bytes, status: int, field: str | None
) -> None:
    _, key = _key(app)
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    routed_client = TestClient(app)
    first = routed_client.post(DECISIONS, content=body, headers=auth)  # not yet verified: routed
    hot = _without_routes(app)
    second = hot.post(DECISIONS, content=body, headers=auth)  # verified by the first call
    for r in (first, second):
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json().get("field") == field
    assert first.json()["code"] == second.json()["code"]


def test_unverified_or_revoked_keys_fall_through_to_the_route(
    app: FastAPI, clock: ManualClock
) -> None:
    key_id, key = _key(app)
    auth = {"Authorization": f"Bearer {key}"}
    client = TestClient(app)
    assert client.post(DECISIONS, json=payment(clock), headers=auth).status_code == 200
    api_keys(app.state.platform).revoke(key_id)
    r = client.post(DECISIONS, json=payment(clock), headers=auth)
    assert r.status_code == 401 and r.json()["code"] == "authentication_failed"
    assert client.post(DECISIONS, json=payment(clock)).status_code == 401  # no credentials


def test_a_teller_is_refused_on_the_hot_path_too(app: FastAPI, clock: ManualClock) -> None:
    _, key = _key(app, Role.TELLER)
    auth = {"Authorization": f"Bearer {key}"}
    client = TestClient(app)
    first = client.post(DECISIONS, json=payment(clock), headers=auth)
    second = _without_routes(app).post(DECISIONS, json=payment(clock), headers=auth)
    assert first.status_code == second.status_code == 403
    assert first.json()["code"] == second.json()["code"]
