"""Per-app rate limits: an app's API calls count against its own limit (429 + Retry-After);
another app is not affected."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.openbanking.conftest import (
    ACCOUNT_ACCESS,
    ISSUER,
    authorise,
    limited_site,
    make_app,
)

from finbridge.core import ManualClock


def test_each_app_has_its_own_limit(
    tmp_path: Path, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform, browser, zhang = limited_site(tmp_path / "data", sqlite_engine, clock, "3/minute")
    first, second = (make_app(platform, TestClient(browser.app), clock, name=n) for n in ("A", "B"))
    for app in (first, second):
        app.exchange(
            authorise(app, browser, ACCOUNT_ACCESS, [zhang.current]),
            verifier=app.verifier,
            state="st-1",
        )  # type: ignore[attr-defined]
    for _ in range(3):
        assert first.get("/open-banking/v1/accounts")
    url = f"{ISSUER}/open-banking/v1/accounts"
    assert first.tokens is not None
    token = first.tokens.access_token
    r = first.http.get(
        url,
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": first.proof("GET", url, access_token=token),
        },
    )
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert second.get("/open-banking/v1/accounts")  # B's own limit is untouched
    platform.close()
