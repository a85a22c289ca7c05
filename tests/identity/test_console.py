"""Console: customer login page (password then TOTP, and a failed login), the customer's own
status page and the operator's masked view. Plus the same flow in headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.browser_support import free_port, open_chromium, serve

from finbridge.core import ManualClock, Principal, Role, Settings
from finbridge.core.settings import ServeSettings
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform
from finbridge.site import create_app

from .conftest import PASSWORD, ZHANG

HX = {"HX-Request": "true"}


@pytest.fixture
def platform(settings: Settings, sqlite_engine: Engine, clock: ManualClock) -> Platform:
    return Platform(settings=settings, engine=sqlite_engine, clock=clock)


def _customer_with_totp(platform: Platform, clock: ManualClock) -> tuple[str, pyotp.TOTP]:
    from datetime import timedelta

    ids = platform.identity
    cid = ids.persons.register(ZHANG).customer_id
    me = Principal.customer(cid)
    ids.passwords.set_password(me, cid, PASSWORD)
    setup = ids.totp.begin_setup(me, cid)
    totp = pyotp.TOTP(setup.secret)
    ids.totp.confirm_setup(me, cid, totp.at(clock.now()))
    clock.advance(timedelta(seconds=30))
    return cid, totp


def test_customer_console_login_with_totp(platform: Platform, clock: ManualClock) -> None:
    cid, totp = _customer_with_totp(platform, clock)
    client = TestClient(create_app(platform=platform))
    assert "Customer log in" in client.get("/console/identity/login").text
    bad = client.post(
        "/console/identity/login",
        headers=HX,
        data={"phone": ZHANG.phone, "password": "wrong password!"},
    )
    assert bad.status_code == 401 and "mobile number or password is wrong" in bad.text
    step = client.post(
        "/console/identity/login", headers=HX, data={"phone": ZHANG.phone, "password": PASSWORD}
    )
    assert step.status_code == 200 and 'name="challenge"' in step.text
    challenge = step.text.split('name="challenge" value="')[1].split('"')[0]
    done = client.post(
        "/console/identity/login/totp",
        headers=HX,
        data={"challenge": challenge, "code": totp.at(clock.now())},
    )
    assert done.status_code == 204 and done.headers["HX-Redirect"] == "/console/identity/me"
    page = client.get("/console/identity/me")
    assert page.status_code == 200
    assert "138****5678" in page.text and "110***********4477" in page.text
    assert ZHANG.phone not in page.text and ZHANG.id_number not in page.text
    # revoke-all through the API ends the console session too
    platform.identity.sessions.revoke_all(Principal.customer(cid), cid)
    assert client.get("/console/identity/me", follow_redirects=False).status_code == 303


def test_operator_view_is_masked(platform: Platform, clock: ManualClock) -> None:
    _customer_with_totp(platform, clock)
    secret = platform.settings.secret_key.get_secret_value()
    key = ApiKeyService(platform.engine, platform.clock, secret).issue("ops", [Role.ADMIN])
    client = TestClient(create_app(platform=platform))
    assert (
        client.post("/console/login", data={"api_key": key.plaintext}, headers=HX).status_code
        == 204
    )
    page = client.get("/console/identity", params={"q": ZHANG.phone})
    assert page.status_code == 200
    assert "138****5678" in page.text and "totp" in page.text and "password.set" in page.text
    assert "13812345678" not in page.text.replace('value="13812345678"', "")
    missing = client.get("/console/identity", params={"q": "no-such-customer"})
    assert "no customer" in missing.text


@pytest.fixture
def server(platform: Platform) -> Iterator[str]:
    with serve(platform) as base:
        yield base


@pytest.mark.browser
def test_customer_login_in_chromium(server: str, platform: Platform, clock: ManualClock) -> None:
    _, totp = _customer_with_totp(platform, clock)
    errors: list[str] = []
    with open_chromium() as browser:
        page = browser.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{server}/console/identity/login")
        # a failed login first
        page.fill("#phone", ZHANG.phone)
        page.fill("#password", "not my password")
        page.click("button[type=submit]")
        page.wait_for_selector("p.error")
        assert "mobile number or password is wrong" in page.inner_text("p.error")
        # then password + TOTP
        page.fill("#phone", ZHANG.phone)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#code")
        page.fill("#code", totp.at(clock.now()))
        page.click("button[type=submit]")
        page.wait_for_url("**/console/identity/me")
        text = page.inner_text("#identity-status")
        assert "138****5678" in text and "totp" in text
    assert errors == []


@pytest.fixture
def localhost_server(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> Iterator[tuple[str, Platform]]:
    """WebAuthn needs the RP id (localhost) to match the page's host, so serve as localhost."""
    port = free_port()
    platform = Platform(
        settings=settings.with_changes(serve=ServeSettings(host="localhost", port=port)),
        engine=sqlite_engine,
        clock=clock,
    )
    with serve(platform, port, "localhost") as base:
        yield base, platform


@pytest.mark.browser
def test_passkey_register_and_login_in_chromium(
    localhost_server: tuple[str, Platform], clock: ManualClock
) -> None:
    """Chromium's virtual authenticator (DevTools WebAuthn domain) plays the security key."""

    base, platform = localhost_server
    ids = platform.identity
    cid = ids.persons.register(ZHANG, password=PASSWORD).customer_id
    errors: list[str] = []
    with open_chromium() as browser:
        page = browser.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )
        # password-only customer: logs straight in, then adds a passkey
        page.goto(f"{base}/console/identity/login")
        page.fill("#phone", ZHANG.phone)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/console/identity/me")
        page.click("[data-passkey-register]")
        page.wait_for_selector("dd:has-text('password, passkey')")  # page reloaded
        # log out, log in again: password, then the passkey
        page.context.clear_cookies()
        page.goto(f"{base}/console/identity/login")
        page.fill("#phone", ZHANG.phone)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.click("[data-passkey-login]")
        page.wait_for_url("**/console/identity/me")
        assert "138****5678" in page.inner_text("#identity-status")
    assert errors == []
    sessions = ids.sessions.list(Principal.customer(cid), cid)
    assert any("hwk" in s.amr for s in sessions)
