"""The decision gateway (finbridge.gateway) keeps the API route's contract exactly.

Same platform, same key: the gateway and ``POST /v1/risk/decisions`` on the API answer the same
decision document and the same problem documents, because both call ``RiskService``.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from finbridge.core import ManualClock, Role, Settings
from finbridge.core.settings import ApiSettings, RiskSettings
from finbridge.gateway import DECISIONS, GatewayProcess, create_gateway
from finbridge.platform import Platform
from finbridge.site import create_app

from .conftest import payment


@pytest.fixture
def platform(settings: Settings, sqlite_engine: Engine, clock: ManualClock) -> Platform:
    small = settings.with_changes(
        api=ApiSettings(max_upload_bytes=4096), risk=RiskSettings(use_model=False)
    )
    return Platform(settings=small, engine=sqlite_engine, clock=clock)


def _key(platform: Platform, role: Role = Role.RISK_ANALYST) -> tuple[str, str]:
    issued = platform.api_keys.issue("ana", [role])
    return issued.key.id, issued.plaintext


def test_gateway_and_api_answer_the_same_decision(platform: Platform, clock: ManualClock) -> None:
    _, key = _key(platform)
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_gateway(platform)) as gateway:
        first = gateway.post(DECISIONS, json=payment(clock, event_id="e-1"), headers=auth)
        assert first.status_code == 200, first.text
        assert first.headers["content-type"] == "application/json"
        routed = TestClient(create_app(platform=platform)).post(
            DECISIONS, json=payment(clock, event_id="e-1"), headers=auth
        )
        assert routed.status_code == 200
        assert routed.content == first.content  # idempotent: the stored decision, same bytes
        fresh = gateway.post(
            DECISIONS, json=payment(clock, event_id="e-2"), headers={"X-API-Key": key}
        )
        assert fresh.status_code == 200 and set(fresh.json()) == set(first.json())
        assert fresh.json()["decision_id"] != first.json()["decision_id"]


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
def test_gateway_problems_match_the_api_ones(
    platform: Platform, body: bytes, status: int, field: str | None
) -> None:
    _, key = _key(platform)
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    routed = TestClient(create_app(platform=platform)).post(DECISIONS, content=body, headers=auth)
    with TestClient(create_gateway(platform)) as gateway:
        direct = gateway.post(DECISIONS, content=body, headers=auth)
    for r in (routed, direct):
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json().get("field") == field
    assert routed.json() == direct.json()


def test_unknown_revoked_or_missing_keys_are_refused(
    platform: Platform, clock: ManualClock
) -> None:
    key_id, key = _key(platform)
    auth = {"Authorization": f"Bearer {key}"}
    with TestClient(create_gateway(platform)) as gateway:
        assert gateway.post(DECISIONS, json=payment(clock), headers=auth).status_code == 200
        platform.api_keys.revoke(key_id)  # forgets the verified key at once in this process
        r = gateway.post(DECISIONS, json=payment(clock), headers=auth)
        assert r.status_code == 401 and r.json()["code"] == "authentication_failed"
        assert r.headers["www-authenticate"] == "Bearer"
        assert gateway.post(DECISIONS, json=payment(clock)).status_code == 401
        token = {"Authorization": "Bearer a.b.c"}  # customer tokens are for the API
        assert gateway.post(DECISIONS, json=payment(clock), headers=token).status_code == 401


def test_a_teller_is_refused_like_on_the_api(platform: Platform, clock: ManualClock) -> None:
    _, key = _key(platform, Role.TELLER)
    auth = {"Authorization": f"Bearer {key}"}
    routed = TestClient(create_app(platform=platform)).post(
        DECISIONS, json=payment(clock), headers=auth
    )
    with TestClient(create_gateway(platform)) as gateway:
        direct = gateway.post(DECISIONS, json=payment(clock), headers=auth)
    assert routed.status_code == direct.status_code == 403
    assert routed.json()["code"] == direct.json()["code"]


def test_health_ready_and_unknown_routes(platform: Platform) -> None:
    gateway = create_gateway(platform)
    assert TestClient(gateway).get("/ready").json()["status"] == "starting"  # not warmed yet
    with TestClient(gateway) as client:  # the lifespan warms the platform's risk face
        assert client.get("/health").json()["status"] == "ok"
        ready = client.get("/ready")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        assert client.get("/v1/risk/rule-sets").status_code == 404
        wrong = client.get(DECISIONS)
        assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"


def test_served_gateway_in_its_own_process_with_the_writer_process(
    platform: Platform, clock: ManualClock, tmp_path: Path
) -> None:
    """What ``serve`` starts: settings passed as an object, ready only once warmed."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, key = _key(platform)
    settings = platform.settings.with_changes(database_url=str(platform.engine.url))
    gateway = GatewayProcess(settings, host="127.0.0.1", port=port, writer_process=True).start()
    try:
        gateway.wait_ready(timeout=120)
        body = payment(clock, event_id="served-1")
        r = httpx.post(f"{gateway.url}{DECISIONS}", json=body, headers={"X-API-Key": key})
        assert r.status_code == 200, r.text
    finally:
        gateway.stop()
    stored = platform.risk.decision(platform.api_keys.authenticate(key), "served-1")
    assert stored is not None and stored.decision_id == r.json()["decision_id"]


def test_the_gateway_command() -> None:
    """``finbridge gateway``: its options, the writer process an explicit switch."""
    import typer
    from typer.testing import CliRunner

    from finbridge.cli.commands import gateway

    app = typer.Typer()

    @app.callback()
    def main() -> None:  # a group, as in finbridge.cli.main
        pass

    gateway.register(app)
    out = CliRunner().invoke(app, ["gateway", "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "--port" in out.output and "--writer-process" in out.output
