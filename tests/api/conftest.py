"""API fixtures: the real app on a real database, real API keys, helpers to fund accounts."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from finbridge.core import ManualClock, Principal, Role, Settings
from finbridge.platform import Platform
from finbridge.site import create_app

_keys = itertools.count()


@dataclass
class Api:
    """A TestClient bound to one credential, with shortcuts for the common set-up calls."""

    client: TestClient
    headers: dict[str, str]

    def get(self, url: str, **kw: Any) -> Any:
        return self.client.get(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def post(self, url: str, **kw: Any) -> Any:
        return self.client.post(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def put(self, url: str, **kw: Any) -> Any:
        return self.client.put(url, headers={**self.headers, **kw.pop("headers", {})}, **kw)

    def customer(self, name: str = "Ada") -> str:
        r = self.post("/v1/customers", json={"kind": "personal", "display_name": name})
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def account(self, customer_id: str, currency: str = "CNY", kind: str = "current") -> str:
        body = {"customer_id": customer_id, "kind": kind, "currency": currency}
        r = self.post("/v1/accounts", json=body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def deposit(self, account_id: str, amount: str, currency: str = "CNY") -> None:
        r = self.post(
            f"/v1/accounts/{account_id}/deposits",
            json={"amount": amount, "currency": currency},
            headers={"Idempotency-Key": f"dep-{next(_keys)}"},
        )
        assert r.status_code == 201, r.text

    def balance(self, account_id: str) -> str:
        r = self.get(f"/v1/accounts/{account_id}/balance")
        assert r.status_code == 200, r.text
        return str(r.json()["balance"])


def make_platform(settings: Settings, engine: Engine, clock: ManualClock) -> Platform:
    return Platform(settings=settings, engine=engine, clock=clock)


@pytest.fixture
def api_platform(settings: Settings, sqlite_engine: Engine, clock: ManualClock) -> Platform:
    return make_platform(settings, sqlite_engine, clock)


@pytest.fixture
def api_app(api_platform: Platform) -> FastAPI:
    return create_app(platform=api_platform)


def issue_key(platform: Platform, roles: list[Role], name: str = "test") -> str:
    return platform.api_keys.issue(name, roles).plaintext


@pytest.fixture
def admin(api_app: FastAPI, api_platform: Platform) -> Api:
    key = issue_key(api_platform, [Role.ADMIN], "admin")
    return Api(TestClient(api_app), {"Authorization": f"Bearer {key}"})


def customer_api(app: FastAPI, platform: Platform, customer_id: str) -> Api:
    """A customer's session (as the identity engine will open after customer login)."""
    token = platform.identity.console_sessions.create(Principal.customer(customer_id), None)
    client = TestClient(app)
    client.cookies.set("finbridge_session", token)
    # The CSRF rule for cookie-authenticated /v1 calls (api/deps.py check_csrf).
    return Api(client, {"X-Requested-With": "fetch"})
