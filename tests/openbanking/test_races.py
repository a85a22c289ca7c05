"""Races on both databases: a code redeemed twice at once, payments racing a mandate's total,
one JWT id presented twice at once. The service layer only (no HTTP), so PostgreSQL's row locks
and SQLite's write lock are what is tested."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.openbanking.conftest import ISSUER, REDIRECT, SYSTEM
from tests.settings_support import test_settings as settings_for
from thirdparty_app.client import ThirdPartyApp, b64sha256, new_key

from finbridge.banking import ApproveAll, BankingService
from finbridge.core import ManualClock, Money, Principal
from finbridge.core.settings import OpenBankingSettings
from finbridge.openbanking import AppStatus, Grant, OAuthError, OpenBankingService

VERIFIER = "v" * 50


class SecondFactorProven:
    """The customer's fresh second factor (identity's step-up is tested over HTTP)."""

    def require_step_up(self, principal: Principal, action: str, *, demanded: bool = False) -> None:
        return None


@dataclass
class Bank:
    banking: BankingService
    openbanking: OpenBankingService


@pytest.fixture
def ob(tmp_path: Path, engine: Engine, clock: ManualClock) -> Bank:
    settings = settings_for(tmp_path / "data", openbanking=OpenBankingSettings(issuer=ISSUER))
    banking = BankingService(engine, clock, guard=ApproveAll())
    service = OpenBankingService.build(
        engine, clock, settings, banking=banking, second_factor=SecondFactorProven()
    )
    return Bank(banking, service)


def _customer(platform: Bank, funds: str) -> tuple[str, str]:
    bank = platform.banking
    cid = bank.create_customer(SYSTEM, kind="personal", display_name="c").id
    account = bank.open_account(SYSTEM, cid, kind="current", currency_code="CNY").id
    if funds != "0.00":
        bank.deposit(SYSTEM, account, Money.of(funds, "CNY"), idempotency_key=f"fund-{account}")
    return cid, account


def _app(platform: Bank, clock: ManualClock) -> ThirdPartyApp:
    key = new_key()
    app = platform.openbanking.apps.register(
        SYSTEM,
        name="Racer",
        developer="R",
        redirect_uris=[REDIRECT],
        jwks={"keys": [key.as_dict(private=False)]},
        scopes=["accounts", "payments"],
    )
    platform.openbanking.apps.decide(SYSTEM, app.client_id, AppStatus.APPROVED)
    client = ThirdPartyApp(
        http=None,
        base_url=ISSUER,
        client_id=app.client_id,
        signing_key=key,  # type: ignore[arg-type]
        redirect_uri=REDIRECT,
        now=lambda: clock.now().timestamp(),
    )
    client.metadata = platform.openbanking.server.metadata()
    return client


def _code(platform: Bank, tpp: ThirdPartyApp, cid: str, account: str, details: Any) -> str:
    server = platform.openbanking.server
    form = {
        "response_type": "code",
        "client_id": tpp.client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": b64sha256(VERIFIER),
        "code_challenge_method": "S256",
        "authorization_details": json.dumps(details),
        **tpp._assertion(),
    }
    request_uri = server.push(form, dpop_proof=None)["request_uri"]
    request_id = server.authorisation_request(
        {"client_id": tpp.client_id, "request_uri": request_uri}
    )
    url = server.approve(
        Principal.customer(cid), request_id, [account], banking_accounts={account: "CNY"}
    )
    return ThirdPartyApp.callback(url)["code"]


def _exchange(platform: Bank, tpp: ThirdPartyApp, code: str) -> dict[str, Any]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": VERIFIER,
        **tpp._assertion(),
    }
    proof = tpp.proof("POST", f"{ISSUER}/oauth2/token")
    return platform.openbanking.server.token(form, dpop_proof=proof)


def _race(calls: list[Callable[[], Any]]) -> list[Any]:
    def run(call: Callable[[], Any]) -> Any:
        try:
            return call()
        except OAuthError as exc:
            return exc

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def test_a_code_redeemed_twice_at_once_issues_nothing_usable(ob: Bank, clock: ManualClock) -> None:
    cid, account = _customer(ob, "10.00")
    tpp = _app(ob, clock)
    code = _code(ob, tpp, cid, account, [{"type": "account_access", "permissions": ["accounts"]}])
    results = _race([lambda: _exchange(ob, tpp, code) for _ in range(4)])
    issued = [r for r in results if isinstance(r, dict)]
    refusals = [r for r in results if isinstance(r, OAuthError)]
    assert len(issued) == 1 and {r.error for r in refusals} == {"invalid_grant"}
    # The reuse revoked what the code issued.
    introspected = ob.openbanking.server.introspect(
        {"token": issued[0]["access_token"], **tpp._assertion()}
    )
    assert introspected == {"active": False}


def test_payments_racing_a_mandate_total(ob: Bank, clock: ManualClock) -> None:
    cid, account = _customer(ob, "1000.00")
    _, creditor = _customer(ob, "0.00")
    tpp = _app(ob, clock)
    mandate = [
        {
            "type": "payment_mandate",
            "currency": "CNY",
            "creditor_account": creditor,
            "max_per_payment": "40.00",
            "max_total": "100.00",
        }
    ]
    tokens = _exchange(ob, tpp, _code(ob, tpp, cid, account, mandate))
    consent = ob.openbanking.server.consent_for_client(tpp.client_id, tokens["consent_id"])
    grant = Grant("t", tpp.client_id, cid, consent, "jkt")
    pay = ob.openbanking.resources.initiate_payment
    results = _race(
        [
            lambda k=k: pay(
                grant,
                idempotency_key=f"k{k}",
                amount=Money.of("40.00", "CNY"),
                creditor_account_id=creditor,
            )
            for k in range(6)
        ]
    )
    completed = [r for r in results if not isinstance(r, OAuthError)]
    assert len(completed) == 2 and all(p.status == "completed" for p in completed)
    assert ob.banking.balance(SYSTEM, creditor).balance == Money.of("80.00", "CNY")


def test_one_jti_presented_twice_at_once(ob: Bank, clock: ManualClock) -> None:
    replay = ob.openbanking.replay
    expires = clock.now() + timedelta(minutes=1)
    results = _race(
        [lambda: replay.first_use("assertion", "c", "same-jti", expires) for _ in range(6)]
    )
    assert sorted(results) == [False] * 5 + [True]
    clock.advance(timedelta(minutes=2))
    assert replay.prune() == 1
