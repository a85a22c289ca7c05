"""Open-banking fixtures: the real site on a real migrated database, a customer registered with
identity (password + TOTP) and signed in through the customer app's forms, an approved app, and
the example third-party client (``examples/thirdparty_app``) driving the server over HTTP."""

from __future__ import annotations

import html
import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.settings_support import test_settings

from finbridge.banking import ApproveAll
from finbridge.core import ManualClock, Money, Principal
from finbridge.core.settings import OpenBankingSettings, RateLimitSettings
from finbridge.identity import RegistrationRequest, StepUpGuard
from finbridge.openbanking import App, AppStatus
from finbridge.platform import Platform
from finbridge.site import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from thirdparty_app.client import ThirdPartyApp, new_key

SYSTEM = Principal.system("test")
ISSUER = "http://testserver"
REDIRECT = "https://budget.example.com/callback"
PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
_RETURN = re.compile(r'id="return-to-app" href="([^"]+)"')
_keys = itertools.count()


@dataclass
class Customer:
    id: str
    totp: pyotp.TOTP
    phone: str
    current: str
    savings: str
    usd: str


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "page has no CSRF token"
    return found.group(1)


def register_customer(
    platform: Platform, clock: ManualClock, req: RegistrationRequest, funds: str
) -> Customer:
    ids = platform.identity
    cid = ids.persons.register(req, password=PASSWORD).customer_id
    me = Principal.customer(cid)
    totp = pyotp.TOTP(ids.totp.begin_setup(me, cid).secret)
    ids.totp.confirm_setup(me, cid, totp.at(clock.now()))
    clock.advance(timedelta(seconds=30))
    bank = platform.banking
    accounts = [
        bank.open_account(SYSTEM, cid, kind=kind, currency_code=cur).id
        for kind, cur in (("current", "CNY"), ("savings", "CNY"), ("current", "USD"))
    ]
    bank.deposit(SYSTEM, accounts[0], Money.of(funds, "CNY"), idempotency_key=f"f{next(_keys)}")
    return Customer(cid, totp, req.phone, *accounts)


def sign_in(client: TestClient, clock: ManualClock, who: Customer) -> None:
    """Through the customer app's real forms: password, then the TOTP code."""
    page = client.get("/app/login")
    r = client.post(
        "/app/login",
        data={"phone": who.phone, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    challenge = r.text.split('name="challenge" value="')[1].split('"')[0]
    clock.advance(timedelta(seconds=30))
    done = client.post(
        "/app/login/code",
        data={
            "challenge": challenge,
            "code": who.totp.at(clock.now()),
            "csrf_token": csrf_of(r.text),
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text


@pytest.fixture
def platform(tmp_path: Path, sqlite_engine: Engine, clock: ManualClock) -> Iterator[Platform]:
    settings = test_settings(tmp_path / "data", openbanking=OpenBankingSettings(issuer=ISSUER))
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    # identity's real step-up guard; an approving inner guard instead of the risk model.
    platform.use_posting_guard(StepUpGuard(platform.identity.step_up, inner=ApproveAll()))
    yield platform
    platform.close()


@pytest.fixture
def client(platform: Platform) -> TestClient:
    return TestClient(create_app(platform=platform))


@pytest.fixture
def zhang(platform: Platform, clock: ManualClock) -> Customer:
    req = RegistrationRequest(
        name="张三丰",
        id_type="prc_resident_id",
        id_number="110101199003074477",
        phone="13812345678",
    )
    return register_customer(platform, clock, req, "1000.00")


@pytest.fixture
def merchant(platform: Platform, clock: ManualClock) -> Customer:
    req = RegistrationRequest(
        name="李小龙",
        id_type="prc_resident_id",
        id_number="310115198702141238",
        phone="13912345678",
    )
    return register_customer(platform, clock, req, "50.00")


def make_app(
    platform: Platform,
    client: TestClient,
    clock: ManualClock,
    *,
    name: str = "Budget Buddy",
    redirect: str = REDIRECT,
    approve: bool = True,
    scopes: tuple[str, ...] = ("accounts", "payments"),
    sandbox: bool = False,
    owner: Principal = SYSTEM,
) -> ThirdPartyApp:
    key = new_key()
    registered: App = platform.openbanking.apps.register(
        owner,
        name=name,
        developer=f"{name} Ltd",
        redirect_uris=[redirect],
        jwks={"keys": [key.as_dict(private=False) | {"kid": key.kid}]},
        scopes=list(scopes),
        category="budgeting",
        description="Tracks spending",
        sandbox=sandbox,
    )
    if approve and not sandbox:
        platform.openbanking.apps.decide(SYSTEM, registered.client_id, AppStatus.APPROVED)
    return ThirdPartyApp(
        http=client,
        base_url=ISSUER,
        client_id=registered.client_id,
        signing_key=key,
        redirect_uri=redirect,
        now=lambda: clock.now().timestamp(),
    )


@pytest.fixture
def tpp(platform: Platform, client: TestClient, clock: ManualClock) -> ThirdPartyApp:
    # The app speaks to the bank over its own HTTP client (no customer cookie).
    return make_app(platform, TestClient(client.app), clock)


ACCOUNT_ACCESS = [
    {
        "type": "account_access",
        "permissions": ["accounts", "balances", "transactions"],
        "transaction_from": "2026-10-01",
        "expires_in_days": 30,
    }
]


def authorise(
    tpp: ThirdPartyApp,
    browser: TestClient,
    details: list[dict[str, object]],
    accounts: list[str],
    *,
    state: str = "st-1",
    code: str | None = None,
) -> dict[str, str]:
    """PAR, then the customer's browser through the consent screen; the redirect's params."""
    url, verifier = tpp.push(details, state=state)
    tpp.verifier = verifier  # type: ignore[attr-defined]
    page = browser.get(url)
    assert page.status_code == 200, page.text
    data: dict[str, object] = {
        "decision": "approve",
        "account_ids": accounts,
        "csrf_token": csrf_of(page.text),
    }
    if code is not None:
        data["code"] = code
    done = browser.post(str(page.url), data=data, follow_redirects=False)
    return ThirdPartyApp.callback(returned_to(done))


def returned_to(done: Any) -> str:
    """Where the customer app sends the browser back to the app (the redirect URI)."""
    assert done.status_code == 200, done.text
    found = _RETURN.search(done.text)
    assert found, "no way back to the app on the page"
    return html.unescape(found.group(1))


ZHANG = RegistrationRequest(
    name="张三丰", id_type="prc_resident_id", id_number="110101199003074477", phone="13812345678"
)


def limited_site(
    data_dir: Path, engine: Engine, clock: ManualClock, per_client: str
) -> tuple[Platform, TestClient, Customer]:
    """A platform whose apps each have ``per_client`` calls, its site, and a signed-in
    customer's browser."""
    settings = test_settings(
        data_dir,
        openbanking=OpenBankingSettings(issuer=ISSUER),
        rate_limits=RateLimitSettings(app_per_client=per_client),
    )
    platform = Platform(settings=settings, engine=engine, clock=clock)
    platform.use_posting_guard(StepUpGuard(platform.identity.step_up, inner=ApproveAll()))
    browser = TestClient(create_app(platform=platform))
    zhang = register_customer(platform, clock, ZHANG, "10.00")
    sign_in(browser, clock, zhang)
    return platform, browser, zhang
