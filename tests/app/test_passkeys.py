"""Passkeys in the app: add one on the security page, then sign in with it instead of the code
(a software authenticator stands in for the device; the browser calls are static/passkey.js)."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from tests.identity.softauthn import SoftAuthenticator

from finbridge.core import ManualClock
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


def test_passkey_step_up_before_money_leaves(
    signed_in: TestClient, platform: Platform, zhang: Customer, li: Customer, clock: ManualClock
) -> None:
    auth = SoftAuthenticator()
    token = {"X-CSRF-Token": csrf_of(signed_in.get("/app/security").text)}
    options = signed_in.post("/app/security/passkeys/options", json={}, headers=token).json()
    signed_in.post(
        "/app/security/passkeys", json={"credential": auth.create(options)}, headers=token
    )
    clock.advance(timedelta(minutes=6))  # the sign-in's second factor is stale
    page = signed_in.get("/app/transfers")
    key = page.text.split('name="key" value="')[1].split('"')[0]
    data = {"csrf_token": csrf_of(page.text), "key": key, "from_account": zhang.current,
            "to_account": li.current, "amount": "600"}  # fmt: skip
    step = signed_in.post("/app/transfers", data=data)
    assert step.status_code == 403 and "data-passkey-stepup" in step.text
    request = signed_in.post("/app/transfers/passkey/options", json={}, headers=token).json()
    bad = signed_in.post(
        "/app/transfers/passkey",
        json={"credential": auth.get(request, origin="https://phish.example")},
        headers=token,
    )
    assert bad.status_code == 401
    assert signed_in.post("/app/transfers", data=data).status_code == 403  # still not stepped up
    request = signed_in.post("/app/transfers/passkey/options", json={}, headers=token).json()
    ok = signed_in.post(
        "/app/transfers/passkey", json={"credential": auth.get(request)}, headers=token
    )
    assert ok.status_code == 204
    sent = signed_in.post("/app/transfers", data=data)
    assert sent.status_code == 200 and "转账成功" in sent.text
    assert str(platform.banking.get_account(li.principal, li.current).balance.amount) == "650.00"
