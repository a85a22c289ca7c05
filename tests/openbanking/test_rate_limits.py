"""Per-app rate limits: an app's API calls count against its own limit (429 + Retry-After);
another app is not affected."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.openbanking.conftest import (
    ACCOUNT_ACCESS,
    ISSUER,
    Customer,
    authorise,
    make_app,
    register_customer,
    sign_in,
)
from tests.settings_support import test_settings as settings_for

from finbridge.banking import ApproveAll
from finbridge.core import ManualClock
from finbridge.core.settings import OpenBankingSettings, RateLimitSettings
from finbridge.identity import RegistrationRequest, StepUpGuard
from finbridge.platform import Platform
from finbridge.site import create_app

ZHANG = RegistrationRequest(
    name="张三丰", id_type="prc_resident_id", id_number="110101199003074477", phone="13812345678"
)


def test_each_app_has_its_own_limit(
    tmp_path: Path, sqlite_engine: Engine, clock: ManualClock
) -> None:
    settings = settings_for(
        tmp_path / "data",
        openbanking=OpenBankingSettings(issuer=ISSUER),
        rate_limits=RateLimitSettings(app_per_client="3/minute"),
    )
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    platform.use_posting_guard(StepUpGuard(platform.identity.step_up, inner=ApproveAll()))
    browser = TestClient(create_app(platform=platform))
    zhang: Customer = register_customer(platform, clock, ZHANG, "10.00")
    sign_in(browser, clock, zhang)
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
