"""Lockout denial of service: wrong passwords from one client back that client off, never the
real customer signing in from another; API login events record the client's address."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.conftest import make_platform
from tests.identity.conftest import PASSWORD, ZHANG
from tests.settings_support import test_settings as settings_for

from finbridge.core import ManualClock, Principal, RateLimited
from finbridge.site import create_app


def test_an_attacker_is_throttled_while_the_customer_gets_in(
    tmp_path: Path, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = make_platform(settings_for(tmp_path), sqlite_engine, clock)
    ids = platform.identity
    ids.persons.register(ZHANG, password=PASSWORD)
    failures = 0
    throttled = 0
    for _ in range(12):
        try:
            ids.login.start(ZHANG.phone, "wrong password!", client="203.0.113.9")
        except RateLimited:
            throttled += 1
        except Exception:
            failures += 1
    assert failures == 5 and throttled == 7  # backed off after the policy's five
    # The real customer, from their own address, is not locked out.
    assert ids.login.start(ZHANG.phone, PASSWORD, client="198.51.100.7").tokens is not None
    # ...and the attacker's address is still backed off, even with the right password.
    try:
        ids.login.start(ZHANG.phone, PASSWORD, client="203.0.113.9")
        raise AssertionError("the throttled client got in")
    except RateLimited as exc:
        assert exc.extra["retry_after"] >= 1


def test_api_login_events_record_the_client_address(
    tmp_path: Path, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = make_platform(settings_for(tmp_path), sqlite_engine, clock)
    platform.identity.persons.register(ZHANG, password=PASSWORD)
    client = TestClient(create_app(platform=platform))
    ok = client.post("/v1/identity/login", json={"phone": ZHANG.phone, "password": PASSWORD})
    bad = client.post("/v1/identity/login", json={"phone": ZHANG.phone, "password": "nope nope"})
    assert ok.status_code == 200 and bad.status_code == 401
    platform.events.relay(Principal.system("test"))
    logins = platform.events.list_events(Principal.system("test"), event_type="login")
    assert len(logins) == 2
    assert {e.payload.get("ip") for e in logins} == {"testclient"}
