"""The app factory: health/readiness, API-key authentication and problem+json errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from finbridge.core import ManualClock, Role, Settings
from finbridge.core.settings import ApiSettings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform
from finbridge.site import create_app


@pytest.fixture
def platform(settings: Settings, engine: Engine, clock: ManualClock) -> Platform:
    return Platform(settings=settings, engine=engine, clock=clock)


def test_health_and_ready(platform: Platform) -> None:
    client = TestClient(create_app(platform=platform))
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}  # no dialect (issue 11)


def test_api_key_round_trip_and_revocation(platform: Platform) -> None:
    keys = ApiKeyService(platform.engine, platform.clock, "test-secret")
    issued = keys.issue("ops", [Role.TELLER])
    principal = keys.authenticate(issued.plaintext)
    assert principal.has_scope("accounts:read")
    keys.revoke(issued.key.id)
    with pytest.raises(Exception, match="invalid or revoked"):
        keys.authenticate(issued.plaintext)


@pytest.mark.parametrize(
    "credential",
    ["", "fbk_nope_nope", "fbk_123456789012_wrongsecret", "garbage"],
)
def test_bad_api_keys_are_refused(platform: Platform, credential: str) -> None:
    keys = ApiKeyService(platform.engine, platform.clock, "test-secret")
    keys.issue("ops", [Role.ADMIN])
    with pytest.raises(Exception, match="invalid or revoked"):
        keys.authenticate(credential)


def test_oversized_body_gets_413_problem(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    small = settings.with_changes(api=ApiSettings(max_upload_bytes=10))
    platform = Platform(settings=small, engine=sqlite_engine, clock=clock)
    client = TestClient(create_app(platform=platform))
    response = client.post("/v1/anything", content=b"x" * 100)
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "payload_too_large"


def test_oversized_chunked_body_without_length_gets_413(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    # No Content-Length: the limit is enforced while the body streams in.
    small = settings.with_changes(api=ApiSettings(max_upload_bytes=64))
    platform = Platform(settings=small, engine=sqlite_engine, clock=clock)
    key = platform.api_keys.issue("ops", [Role.ADMIN])
    client = TestClient(create_app(platform=platform))

    def chunks():  # type: ignore[no-untyped-def]
        for _ in range(10):
            yield b'{"kind": "personal", "display_name": "' + b"x" * 20

    response = client.post(
        "/v1/customers",
        content=chunks(),
        headers={"Authorization": f"Bearer {key.plaintext}", "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"
