"""App fixtures: the real site on a real migrated database, customers signed in through the
real forms (password, then TOTP), and helpers to read the CSRF token from a page."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from finbridge.banking import GuardDecision, PostingIntent, Verdict
from finbridge.core import ManualClock, Money, Principal, Settings
from finbridge.identity import RegistrationRequest, StepUpGuard
from finbridge.platform import Platform
from finbridge.site import create_app

PASSWORD = "correct horse battery"
SYSTEM = Principal.system("test")
_keys = itertools.count()
_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')

ZHANG = RegistrationRequest(
    name="张三丰", id_type="prc_resident_id", id_number="110101199003074477", phone="13812345678"
)
LI = RegistrationRequest(
    name="李小龙", id_type="prc_resident_id", id_number="310115198702141238", phone="13912345678"
)


def csrf_of(html: str) -> str:
    found = _TOKEN.search(html)
    assert found, "page has no CSRF token"
    return found.group(1)


@dataclass
class Customer:
    """A registered customer with TOTP, two CNY accounts and one USD account."""

    id: str
    totp: pyotp.TOTP
    current: str
    savings: str
    usd: str
    req: RegistrationRequest

    @property
    def principal(self) -> Principal:
        return Principal.customer(self.id)


def make_customer(
    platform: Platform, clock: ManualClock, req: RegistrationRequest, funds: str = "1000.00"
) -> Customer:
    ids = platform.identity
    cid = ids.persons.register(req, password=PASSWORD).customer_id
    me = Principal.customer(cid)
    setup = ids.totp.begin_setup(me, cid)
    totp = pyotp.TOTP(setup.secret)
    ids.totp.confirm_setup(me, cid, totp.at(clock.now()))
    clock.advance(timedelta(seconds=30))
    bank = platform.banking
    current = bank.open_account(SYSTEM, cid, kind="current", currency_code="CNY").id
    savings = bank.open_account(SYSTEM, cid, kind="savings", currency_code="CNY").id
    usd = bank.open_account(SYSTEM, cid, kind="current", currency_code="USD").id
    if Decimal(funds) > 0:
        bank.deposit(
            SYSTEM, current, Money.of(funds, "CNY"), idempotency_key=f"fund-{next(_keys)}",
            description="Salary",
        )  # fmt: skip
    return Customer(cid, totp, current, savings, usd, req)


def sign_in(client: TestClient, clock: ManualClock, who: Customer) -> None:
    """Sign in through the real forms: password page, then the TOTP code."""
    page = client.get("/app/login")
    r = client.post(
        "/app/login",
        data={"phone": who.req.phone, "password": PASSWORD, "csrf_token": csrf_of(page.text)},
    )
    assert r.status_code == 200 and 'name="challenge"' in r.text, r.text
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
    assert "finbridge_app" in client.cookies


class ScriptedRisk:
    """Stands in for the risk engine (whose model takes seconds to load): amounts of 900 or
    more are declined with a reason, 500 or more ask for step-up; it records every settle."""

    def __init__(self) -> None:
        self.settled: list[tuple[str, bool]] = []

    def check(self, intent: PostingIntent) -> GuardDecision:
        if intent.amount.amount >= 900:
            return GuardDecision(Verdict.DECLINE, ("amount far above this customer's usual",), "t1")
        if intent.amount.amount >= 500:
            return GuardDecision(Verdict.STEP_UP, ("new payee and a large amount",), "t1")
        return GuardDecision.approve("t1")

    def settle(
        self, intent: PostingIntent, decision: GuardDecision, *, posted: bool, reason: str | None
    ) -> None:
        self.settled.append((intent.idempotency_key, posted))


def scripted_platform(settings: Settings, engine: Engine, clock: ManualClock) -> Platform:
    platform = Platform(settings=settings, engine=engine, clock=clock)
    # The real composition (identity's step-up guard) over a scripted inner risk guard.
    platform.use_posting_guard(StepUpGuard(platform.identity.step_up, inner=ScriptedRisk()))
    return platform


@pytest.fixture
def platform(settings: Settings, sqlite_engine: Engine, clock: ManualClock) -> Platform:
    return scripted_platform(settings, sqlite_engine, clock)


@pytest.fixture
def client(platform: Platform) -> TestClient:
    return TestClient(create_app(platform=platform))


@pytest.fixture
def zhang(platform: Platform, clock: ManualClock) -> Customer:
    return make_customer(platform, clock, ZHANG)


@pytest.fixture
def li(platform: Platform, clock: ManualClock) -> Customer:
    return make_customer(platform, clock, LI, funds="50.00")


@pytest.fixture
def signed_in(client: TestClient, clock: ManualClock, zhang: Customer) -> TestClient:
    sign_in(client, clock, zhang)
    return client
