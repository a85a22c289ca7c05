"""Per-app usage metrics: every /open-banking/v1 call is counted per app, business day,
resource and outcome (served, refused with its error, rate-limited); counters are kept in
process and added to the database in batches (both backends); operators see every app, a
developer only its own, through /v1/openbanking/usage and the console."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from tests.api.conftest import issue_key
from tests.openbanking.conftest import (
    ACCOUNT_ACCESS,
    ISSUER,
    authorise,
    limited_site,
    make_app,
)
from tests.settings_support import test_settings as settings_for
from thirdparty_app.client import OAuthRefused, new_key

from finbridge.core import ManualClock, Principal, Role
from finbridge.core.errors import NotFound, PermissionDenied
from finbridge.openbanking import RATE_LIMITED, SERVED, refused
from finbridge.openbanking.tables import UsageRow
from finbridge.openbanking.usage import UsageMeter
from finbridge.platform import Platform


def _app(platform: Platform, owner: Principal, name: str) -> str:
    return platform.openbanking.apps.register(
        owner,
        name=name,
        developer=f"{name} Ltd",
        redirect_uris=[f"https://{name.lower()}.example/cb"],
        jwks={"keys": [new_key().as_dict(private=False)]},
        scopes=["accounts"],
    ).client_id


def test_counts_add_up_in_batches_and_each_developer_sees_its_own(
    tmp_path: Path, engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings=settings_for(tmp_path / "d"), engine=engine, clock=clock)
    dev_a = Principal.operator("dev-a", [Role.PARTNER])
    dev_b = Principal.operator("dev-b", [Role.PARTNER])
    alpha, beta = _app(platform, dev_a, "Alpha"), _app(platform, dev_b, "Beta")
    meter = UsageMeter(engine, clock, business_timezone="Asia/Shanghai", flush_seconds=3600)
    for _ in range(3):
        assert meter.count(alpha, "accounts", SERVED) is False  # not due: kept in process
    meter.count(alpha, "accounts", refused("invalid_token"))
    meter.count(beta, "balances", RATE_LIMITED)
    assert meter.flush() == 3
    meter.count(alpha, "accounts", SERVED)  # added to the stored row, not replacing it
    clock.advance(timedelta(days=1))
    meter.count(alpha, "accounts", SERVED)
    assert meter.flush() == 2 and meter.flush() == 0

    ops = Principal.operator("ops", [Role.ADMIN])
    rows = {(u.client_id, u.day, u.resource, u.outcome): u.calls for u in meter.report(ops)}
    day = date(2026, 11, 2)  # 01:30 UTC is 09:30 in Shanghai
    assert rows == {
        (alpha, day, "accounts", SERVED): 4,
        (alpha, day, "accounts", "refused:invalid_token"): 1,
        (beta, day, "balances", RATE_LIMITED): 1,
        (alpha, day + timedelta(days=1), "accounts", SERVED): 1,
    }
    assert [u.day for u in meter.report(ops, since=day + timedelta(days=1))] == [
        day + timedelta(days=1)
    ]
    assert {u.day for u in meter.report(ops, days=1)} == {day + timedelta(days=1)}
    assert {u.client_id for u in meter.report(dev_a)} == {alpha}
    assert {u.client_id for u in meter.report(dev_b)} == {beta}
    with pytest.raises(NotFound):
        meter.report(dev_a, client_id=beta)  # another's app is unknown to it
    with pytest.raises(PermissionDenied):
        meter.report(Principal.customer("c1"))
    meter.count(beta, "balances", SERVED)
    assert [u.calls for u in meter.report(dev_b) if u.outcome == SERVED] == [1]  # read flushes
    platform.close()


def test_every_call_is_counted_with_its_outcome(
    tmp_path: Path, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform, browser, zhang = limited_site(tmp_path / "data", sqlite_engine, clock, "5/minute")
    app = make_app(platform, TestClient(browser.app), clock)
    app.exchange(
        authorise(app, browser, ACCOUNT_ACCESS, [zhang.current]),
        verifier=app.verifier,  # type: ignore[attr-defined]
        state="st-1",
    )

    for _ in range(3):
        app.get("/open-banking/v1/accounts")
    with pytest.raises(OAuthRefused, match="invalid_request"):
        app.get(
            f"/open-banking/v1/accounts/{zhang.current}/transactions",
            from_booking_date="2020-01-01",
        )
    app.get(f"/open-banking/v1/accounts/{zhang.current}/balances")
    with pytest.raises(OAuthRefused, match="429"):
        app.get("/open-banking/v1/accounts")
    platform.openbanking.server.revoke_all(Principal.customer(zhang.id))
    with pytest.raises(OAuthRefused, match="invalid_token"):
        app.get(f"/open-banking/v1/accounts/{zhang.current}/balances")
    # A token that is not ours belongs to no app: not counted.
    noise = app.http.get(
        f"{ISSUER}/open-banking/v1/accounts", headers={"Authorization": "DPoP not.a.token"}
    )
    assert noise.status_code == 401

    admin = {"X-API-Key": issue_key(platform, [Role.ADMIN], "ops")}
    r = app.http.get("/v1/openbanking/usage", headers=admin)
    assert r.status_code == 200, r.text
    got = {(u["client_id"], u["resource"], u["outcome"]): u["calls"] for u in r.json()}
    assert got == {
        (app.client_id, "accounts", SERVED): 3,
        (app.client_id, "transactions", "refused:invalid_request"): 1,
        (app.client_id, "balances", SERVED): 1,
        (app.client_id, "accounts", RATE_LIMITED): 1,
        (app.client_id, "balances", "refused:invalid_token"): 1,
    }
    assert {u["day"] for u in r.json()} == {"2026-11-02"}
    dev = {"X-API-Key": issue_key(platform, [Role.PARTNER], "dev")}
    assert app.http.get("/v1/openbanking/usage", headers=dev).json() == []  # not its app
    other = app.http.get(f"/v1/openbanking/usage?client_id={app.client_id}", headers=dev)
    assert other.status_code == 404
    platform.close()


def test_the_serve_loop_writes_counts_when_calls_stop(platform: Platform) -> None:
    from finbridge.cli.openbanking_loop import WebhookLoop

    platform.openbanking.usage.count("app-1", "accounts", SERVED)  # not due: in process only

    def stored() -> list[int]:
        with platform.engine.connect() as conn:
            return list(conn.execute(select(UsageRow.calls)).scalars())

    assert stored() == []
    loop = WebhookLoop(platform, interval_seconds=0.05).start()
    deadline = time.monotonic() + 10
    while not stored() and time.monotonic() < deadline:
        time.sleep(0.05)
    loop.stop()
    assert stored() == [1]
