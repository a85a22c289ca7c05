"""The console shell: login with a server-side session, redirects, CSRF guard, navigation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from tests.web.conftest import HX, log_in

from finbridge.core import ManualClock
from finbridge.identity import CONSOLE_IDLE_TIMEOUT as IDLE_TIMEOUT
from finbridge.identity import ConsoleSessions
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform
from finbridge.web.security import safe_next


def test_anonymous_console_redirects_to_login(web_app: FastAPI) -> None:
    client = TestClient(web_app)
    response = client.get("/console", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/login?next=/console"
    htmx = client.get("/console", headers=HX, follow_redirects=False)
    assert htmx.status_code == 401
    assert htmx.headers["HX-Redirect"].startswith("/console/login")


def test_login_sets_opaque_strict_httponly_cookie(web_app: FastAPI, admin_key: str) -> None:
    client = TestClient(web_app)
    response = client.post(
        "/console/login", data={"api_key": admin_key, "next": "/console"}, headers=HX
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == "/console"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    token = client.cookies["finbridge_session"]
    assert token.startswith("fbs_")
    assert admin_key not in cookie  # the key never travels in the cookie
    page = client.get("/console")
    assert page.status_code == 200
    assert "console admin" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"


def test_wrong_key_is_refused_and_no_cookie(web_app: FastAPI, admin_key: str) -> None:
    client = TestClient(web_app)
    response = client.post("/console/login", data={"api_key": admin_key + "x"}, headers=HX)
    assert response.status_code == 401
    assert "not valid" in response.text
    assert "finbridge_session" not in client.cookies
    assert client.get("/console", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    "headers",
    [{}, {"HX-Request": "true", "Origin": "https://evil.example"}],
    ids=["no-htmx-header", "foreign-origin"],
)
def test_posts_without_htmx_or_from_foreign_origin_are_refused(
    web_app: FastAPI, admin_key: str, headers: dict[str, str]
) -> None:
    client = TestClient(web_app)
    response = client.post("/console/login", data={"api_key": admin_key}, headers=headers)
    assert response.status_code == 403
    assert "finbridge_session" not in client.cookies


def test_revoking_the_key_ends_the_session(
    web_app: FastAPI, admin_key: str, key_service: ApiKeyService
) -> None:
    client = TestClient(web_app)
    log_in(client, admin_key)
    assert client.get("/console").status_code == 200
    key_id = key_service.list()[0].id
    key_service.revoke(key_id)
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_logout_ends_the_session(web_app: FastAPI, admin_key: str) -> None:
    client = TestClient(web_app)
    log_in(client, admin_key)
    token = client.cookies["finbridge_session"]
    response = client.post("/console/logout", headers=HX)
    assert response.headers["HX-Redirect"] == "/console/login"
    client.cookies.set("finbridge_session", token)  # replaying the old cookie does not work
    assert client.get("/console", follow_redirects=False).status_code == 303


def test_session_cookie_also_authenticates_the_api(web_app: FastAPI, admin_key: str) -> None:
    client = TestClient(web_app)
    assert client.get("/health").status_code == 200
    log_in(client, admin_key)
    forged = TestClient(web_app)
    forged.cookies.set("finbridge_session", "fbs_not-a-real-session")
    assert forged.get("/console", follow_redirects=False).status_code == 303


def test_idle_sessions_expire(web_platform: Platform, clock: ManualClock) -> None:
    from finbridge.core import Principal

    sessions = ConsoleSessions(clock)
    token = sessions.create(Principal.system("t"))
    assert sessions.resolve(token) is not None
    clock.advance(IDLE_TIMEOUT + timedelta(seconds=1))
    assert sessions.resolve(token) is None
    assert len(sessions) == 0


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "/console"),
        ("/console/risk?x=1", "/console/risk?x=1"),
        ("https://evil.example/console", "/console"),
        ("//evil.example/console", "/console"),
        ("/v1/accounts", "/console"),
        ("/console/login", "/console"),
    ],
)
def test_post_login_target_never_leaves_the_console(value: str | None, expected: str) -> None:
    assert safe_next(value) == expected


def test_static_vendor_files_are_served_from_the_package(web_app: FastAPI) -> None:
    client = TestClient(web_app)
    for name in ("vendor/echarts.min.js", "vendor/htmx.min.js", "console.js", "console.css"):
        response = client.get(f"/console/static/{name}")
        assert response.status_code == 200, name
        assert len(response.content) > 500


def test_sign_in_attempts_become_login_events(web_app: FastAPI, admin_key: str) -> None:
    from sqlalchemy import select

    from finbridge.lake.tables import OutboxRow
    from finbridge.store import unit_of_work

    client = TestClient(web_app)
    client.post("/console/login", data={"api_key": "fbk_000000000000_nope"}, headers=HX)
    log_in(client, admin_key)
    platform = web_app.state.platform
    with unit_of_work(platform.engine, write=False) as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.event_type == "login")).all()
    outcomes = [(r.payload["success"], r.payload["method"], r.subject_id is None) for r in rows]
    assert outcomes == [(False, "api_key", True), (True, "api_key", False)]
    assert rows[0].payload["failure_reason"] == "invalid or revoked API key"
    assert admin_key not in str([r.payload for r in rows])  # never the key itself
