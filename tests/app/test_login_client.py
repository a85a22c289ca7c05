"""The app's sign-in locks by mobile number + client address (as the API does), and the
browser's Accept-Language picks the language until the customer chooses one."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from finbridge.app.i18n import from_accept_language
from finbridge.platform import Platform
from finbridge.site import create_app

from .conftest import PASSWORD, Customer, csrf_of


def _attempt(client: TestClient, phone: str, password: str) -> int:
    page = client.get("/app/login")
    r = client.post(
        "/app/login",
        data={"phone": phone, "password": password, "csrf_token": csrf_of(page.text)},
    )
    return r.status_code


def test_lockout_is_per_client_address(platform: Platform, zhang: Customer) -> None:
    app = create_app(platform=platform)
    attacker = TestClient(app, client=("203.0.113.7", 40000))
    customer = TestClient(app, client=("198.51.100.2", 40000))
    codes = [_attempt(attacker, zhang.req.phone, "wrong password 123") for _ in range(7)]
    assert codes[0] == 401 and codes[-1] == 429, codes
    # The attacker's address stays backed off, even with the right password...
    assert _attempt(attacker, zhang.req.phone, PASSWORD) == 429
    # ...while the real customer, from their own address, reaches the second factor.
    assert _attempt(customer, zhang.req.phone, PASSWORD) == 200
    ips = {
        e.detail.get("ip")
        for e in platform.identity.audit.entries(subject=zhang.id)
        if e.action == "login" and e.outcome == "failure"
    }
    assert "203.0.113.7" in ips


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("en-US,en;q=0.9", "en"),
        ("fr-FR, en;q=0.4, zh-CN;q=0.8", "zh_CN"),
        ("fr, en;q=0.5", "en"),
        ("zh-TW", "zh_CN"),
        ("de, *;q=0.1", "zh_CN"),
        ("en;q=0, zh;q=0.1", "zh_CN"),
        ("en;q=bogus, ,;;", "zh_CN"),
        ("", "zh_CN"),
        (None, "zh_CN"),
    ],
)
def test_accept_language_ranking(header: str | None, locale: str) -> None:
    assert from_accept_language(header) == locale


def test_accept_language_is_the_default_until_the_customer_picks(client: TestClient) -> None:
    english = {"Accept-Language": "en-GB,en;q=0.9"}
    assert 'lang="en"' in client.get("/app/login", headers=english).text
    assert 'lang="zh-CN"' in client.get("/app/login").text
    page = client.get("/app/login", headers=english)
    client.post(
        "/app/lang",
        data={"lang": "zh_CN", "next": "/app/login", "csrf_token": csrf_of(page.text)},
        headers=english,
    )
    # The customer's own choice (the cookie) wins over the browser's languages.
    assert 'lang="zh-CN"' in client.get("/app/login", headers=english).text
