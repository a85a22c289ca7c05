"""Shadow models over HTTP: list the registry, put a registered model in shadow, stop, promote."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.risk.registry_support import register_tiny

from finbridge.core import ManualClock, Role, Settings
from finbridge.core.settings import RiskSettings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.lake.tables import OutboxRow
from finbridge.platform import Platform
from finbridge.site import create_app
from finbridge.store.engine import unit_of_work


@pytest.fixture
def platform(settings: Settings, sqlite_engine, clock: ManualClock) -> Platform:
    settings = settings.with_changes(risk=RiskSettings(use_model=False))
    return Platform(settings=settings, engine=sqlite_engine, clock=clock)


def _client(platform: Platform, role: Role) -> TestClient:
    secret = platform.settings.secret_key.get_secret_value()
    key = ApiKeyService(platform.engine, platform.clock, secret).issue(role.value, [role])
    c = TestClient(create_app(platform=platform))
    c.headers["Authorization"] = f"Bearer {key.plaintext}"
    return c


def _decide(client: TestClient, clock: ManualClock, customer: str) -> dict:  # type: ignore[type-arg]
    body = {"event_type": "withdrawal", "occurred_at": clock.now().isoformat(),
            "customer_id": customer, "amount": "550"}  # fmt: skip
    r = client.post("/v1/risk/decisions", json=body)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_shadow_model_from_the_registry(platform: Platform, clock: ManualClock) -> None:
    register_tiny(platform.settings.data_dir, "cand-1")
    client = _client(platform, Role.RISK_ANALYST)
    listed = client.get("/v1/risk/models/registered").json()
    assert [m["version"] for m in listed] == ["cand-1"] and listed[0]["size_bytes"] > 100

    for bad in ("../cand-1", "..", "/etc/passwd", "cand-1/../../x", ".cand-1", "a b"):
        r = client.post("/v1/risk/models/shadow", json={"version": bad})
        assert r.status_code == 422 and r.json()["field"] == "version", (bad, r.text)
    r = client.post("/v1/risk/models/shadow", json={"version": "cand-2"})
    assert r.status_code == 404 and "no registered model version cand-2" in r.json()["detail"]
    r = client.post("/v1/risk/models/shadow", json={"version": "cand-1", "path": "/tmp"})
    assert r.status_code == 422
    assert client.get("/v1/risk/models").json() == {"live": None, "shadow": None}

    r = client.post("/v1/risk/models/shadow", json={"version": "cand-1"})
    assert r.status_code == 200, r.text
    assert r.json() == {"live": None, "shadow": "cand-1", "replaced": None}
    assert client.get("/v1/risk/models").json() == {"live": None, "shadow": "cand-1"}
    d = _decide(client, clock, "c1")
    assert d["model_version"] == "none" and d["shadow"]["model_version"] == "cand-1"
    assert 0.0 < d["shadow"]["ml_score"] < 1.0

    teller = _client(platform, Role.TELLER)
    assert teller.get("/v1/risk/models/registered").status_code == 403
    assert teller.post("/v1/risk/models/shadow", json={"version": "cand-1"}).status_code == 403
    assert teller.delete("/v1/risk/models/shadow").status_code == 403
    assert client.get("/v1/risk/models").json()["shadow"] == "cand-1"

    assert client.delete("/v1/risk/models/shadow").json()["stopped"] == "cand-1"
    assert client.delete("/v1/risk/models/shadow").json()["stopped"] is None
    assert "shadow" not in _decide(client, clock, "c2")

    assert client.post("/v1/risk/models/shadow", json={"version": "cand-1"}).status_code == 200
    assert client.post("/v1/risk/models/promote-shadow").json() == {"live": "cand-1"}
    assert client.get("/v1/risk/models").json() == {"live": "cand-1", "shadow": None}
    d = _decide(client, clock, "c3")
    assert d["model_version"] == "cand-1" and d["ml_score"] is not None

    with unit_of_work(platform.engine, write=False) as s:
        kinds = s.scalars(
            select(OutboxRow.event_type)
            .where(OutboxRow.event_type.like("risk.%model%"))
            .order_by(OutboxRow.seq)
        ).all()
    assert kinds == [
        "risk.shadow_model_started",
        "risk.shadow_model_stopped",
        "risk.shadow_model_started",
        "risk.model_promoted",
    ]
