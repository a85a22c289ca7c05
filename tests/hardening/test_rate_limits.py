"""Rate limits answer 429 with Retry-After: per IP for login (password spraying across many
accounts), registration and second factors; per API key or customer for the API at large and
for partner uploads. In-process here; the same limiter takes a Redis URL (shared by workers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.conftest import make_platform
from tests.settings_support import test_settings as settings_for

from finbridge.core import ManualClock, RateLimited, Role
from finbridge.core.ratelimit import RateLimiter
from finbridge.core.settings import RateLimitSettings
from finbridge.site import create_app

LIMITS = RateLimitSettings(
    api_per_ip="1000/minute",
    api_per_principal="8/minute",
    login_per_ip="5/minute",
    registration_per_ip="3/hour",
    otp_per_ip="4/minute",
    ingestion_per_principal="2/hour",
)


@pytest.fixture
def client(tmp_path: Path, sqlite_engine: Engine, clock: ManualClock) -> TestClient:
    settings = settings_for(tmp_path, rate_limits=LIMITS)
    return TestClient(create_app(platform=make_platform(settings, sqlite_engine, clock)))


def _is_429(r) -> bool:  # type: ignore[no-untyped-def]
    return (
        r.status_code == 429
        and r.headers["content-type"].startswith("application/problem+json")
        and int(r.headers["retry-after"]) >= 1
        and r.json()["code"] == "rate_limited"
    )


def test_password_spraying_from_one_ip_is_throttled(client: TestClient) -> None:
    answers = [
        client.post(
            "/v1/identity/login", json={"phone": f"1380000{i:04d}", "password": "Spring2026!"}
        )
        for i in range(200)
    ]
    assert [r.status_code for r in answers[:5]] == [401] * 5
    assert all(_is_429(r) for r in answers[5:])


def test_anonymous_registration_is_limited_per_ip(client: TestClient) -> None:
    body = {"name": "x", "id_type": "prc_resident_id", "id_number": "1", "phone": "1"}
    statuses = [client.post("/v1/identity/register", json=body).status_code for _ in range(4)]
    assert statuses[:3] != [429] * 3 and statuses[3] == 429


def test_second_factor_attempts_are_limited(client: TestClient) -> None:
    body = {"challenge": "fbc_nope", "method": "totp", "code": "000000"}
    answers = [client.post("/v1/identity/login/second-factor", json=body) for _ in range(5)]
    assert answers[0].status_code == 401 and _is_429(answers[4])


def test_each_api_key_has_its_own_budget(client: TestClient) -> None:
    platform = client.app.state.platform  # type: ignore[attr-defined]
    one = platform.api_keys.issue("one", [Role.TELLER]).plaintext
    two = platform.api_keys.issue("two", [Role.TELLER]).plaintext
    first = [
        client.get("/v1/customers", headers={"Authorization": f"Bearer {one}"}) for _ in range(9)
    ]
    assert [r.status_code for r in first[:8]] == [200] * 8 and _is_429(first[8])
    other = client.get("/v1/customers", headers={"Authorization": f"Bearer {two}"})
    assert other.status_code == 200


def test_partner_uploads_are_limited_per_key(client: TestClient) -> None:
    platform = client.app.state.platform  # type: ignore[attr-defined]
    key = platform.api_keys.issue("feed", [Role.PARTNER]).plaintext
    row = (
        b'{"event_type":"app.opened","schema_version":1,"occurred_at":"2026-11-01T08:00:00+00:00",'
        b'"subject_id":"c","payload":{"app_version":"1","platform":"ios"}}\n'
    )
    statuses = [
        client.post(
            "/v1/events/ingest",
            headers={"Authorization": f"Bearer {key}"},
            files={"file": (f"f{i}.jsonl", row * (i + 1), "application/x-ndjson")},
        )
        for i in range(3)
    ]
    assert [r.status_code for r in statuses[:2]] == [200, 200] and _is_429(statuses[2])


def test_the_limiter_itself() -> None:
    limiter = RateLimiter(RateLimitSettings(login_per_ip="2/minute"))
    limiter.hit("login_per_ip", "a")
    limiter.hit("login_per_ip", "a")
    limiter.hit("login_per_ip", "b")  # another key: its own window
    with pytest.raises(RateLimited) as err:
        limiter.hit("login_per_ip", "a")
    assert 1 <= err.value.extra["retry_after"] <= 60
    off = RateLimiter(RateLimitSettings(enabled=False, login_per_ip="1/minute"))
    for _ in range(3):
        off.hit("login_per_ip", "a")


def test_a_bad_rate_is_refused_at_start_naming_it() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="login_per_ip"):
        RateLimitSettings(login_per_ip="lots")


def test_console_key_sign_in_is_throttled_without_an_event_per_failure(
    tmp_path: Path, sqlite_engine: Engine, clock: ManualClock
) -> None:
    from finbridge.core import AuthenticationFailed, Principal
    from finbridge.identity import ClientInfo

    limits = LIMITS.model_copy(update={"console_login_failures_per_ip": "3/minute"})
    platform = make_platform(settings_for(tmp_path, rate_limits=limits), sqlite_engine, clock)
    authenticator = platform.identity.authenticator
    client = ClientInfo(ip="203.0.113.5")
    outcomes = []
    for _ in range(50):
        try:
            authenticator.sign_in_operator("fbk_000000000000_wrong", client)
        except AuthenticationFailed:
            outcomes.append(401)
        except RateLimited:
            outcomes.append(429)
    assert outcomes[:3] == [401] * 3 and set(outcomes[3:]) == {429}
    platform.events.relay(Principal.system("test"))
    logins = platform.events.list_events(Principal.system("test"), event_type="login")
    assert len(logins) == 3  # not one event per attempt of the flood
    # Another address is not affected, and a real key still signs in from it.
    key = platform.api_keys.issue("ops", [Role.ADMIN]).plaintext
    assert authenticator.sign_in_operator(key, ClientInfo(ip="198.51.100.1")).principal
