"""Passkeys in the app: add one on the security page, then sign in with it instead of the code
(a software authenticator stands in for the device; the browser calls are static/passkey.js)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.identity.softauthn import SoftAuthenticator

from finbridge.platform import Platform

from .conftest import PASSWORD, Customer, csrf_of


def test_add_a_passkey_then_sign_in_with_it(
    signed_in: TestClient, platform: Platform, zhang: Customer
) -> None:
    auth = SoftAuthenticator()
    page = signed_in.get("/app/security")
    assert "data-passkey-register" in page.text
    header = {"X-CSRF-Token": csrf_of(page.text)}
    assert signed_in.post("/app/security/passkeys/options", json={}).status_code == 403  # no token
    options = signed_in.post("/app/security/passkeys/options", json={}, headers=header).json()
    added = signed_in.post(
        "/app/security/passkeys",
        json={"credential": auth.create(options), "label": "phone"},
        headers=header,
    )
    assert added.status_code == 201
    assert "phone" in signed_in.get("/app/security").text

    other = TestClient(signed_in.app)
    login = other.get("/app/login")
    step = other.post(
        "/app/login",
        data={"phone": zhang.req.phone, "password": PASSWORD, "csrf_token": csrf_of(login.text)},
    )
    assert "data-passkey-login" in step.text
    challenge = step.text.split('name="challenge" value="')[1].split('"')[0]
    token = {"X-CSRF-Token": csrf_of(step.text)}
    request = other.post(
        "/app/login/passkey/options", json={"challenge": challenge}, headers=token
    ).json()
    forged = dict(auth.get(request, origin="https://phish.example"))
    refused = other.post(
        "/app/login/passkey",
        json={"challenge": challenge, "credential": forged},
        headers=token,
    )
    assert refused.status_code == 401 and "finbridge_app" not in other.cookies
    request = other.post(
        "/app/login/passkey/options", json={"challenge": challenge}, headers=token
    ).json()
    done = other.post(
        "/app/login/passkey",
        json={"challenge": challenge, "credential": auth.get(request), "next": "/app/messages"},
        headers=token,
    )
    assert done.status_code == 200 and done.json() == {"next": "/app/messages"}
    assert other.get("/app/messages").status_code == 200
