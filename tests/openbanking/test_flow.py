"""The example third-party app end to end over HTTP: discovery, PAR + PKCE + private_key_jwt,
the customer's consent screen in the customer app, DPoP-bound tokens, account data, refresh
rotation, introspection, revocation, a payment; and the customer revoking the grant."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from tests.openbanking.conftest import (
    ACCOUNT_ACCESS,
    ISSUER,
    Customer,
    authorise,
    csrf_of,
    returned_to,
    sign_in,
)
from thirdparty_app.client import OAuthRefused, ThirdPartyApp

from finbridge.core import ManualClock, Principal
from finbridge.platform import Platform


def test_discovery_publishes_fapi_metadata_and_keys(client: TestClient) -> None:
    meta = client.get("/.well-known/openid-configuration").json()
    assert meta["issuer"] == ISSUER
    assert meta["require_pushed_authorization_requests"] is True
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert "ES256" in meta["dpop_signing_alg_values_supported"]
    keys = client.get("/oauth2/jwks").json()["keys"]
    assert len(keys) == 1 and keys[0]["kty"] == "EC" and "d" not in keys[0]


def test_account_access_end_to_end(
    client: TestClient, clock: ManualClock, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    sign_in(client, clock, zhang)
    response = authorise(tpp, client, ACCOUNT_ACCESS, [zhang.current])
    assert response["iss"] == ISSUER and response["state"] == "st-1"
    tokens = tpp.exchange(response, verifier=tpp.verifier, state="st-1")  # type: ignore[attr-defined]

    accounts = tpp.get("/open-banking/v1/accounts")
    assert [a["account_id"] for a in accounts] == [zhang.current]
    balance = tpp.get(f"/open-banking/v1/accounts/{zhang.current}/balances")
    assert (balance["booked"], balance["currency"]) == ("1000.00", "CNY")
    moves = tpp.get(f"/open-banking/v1/accounts/{zhang.current}/transactions")
    assert [(m["amount"], m["credit_debit"]) for m in moves] == [("1000.00", "credit")]

    # Refresh rotation: the new pair works, the old refresh token is spent.
    old_refresh = tokens.refresh_token
    tpp.refresh()
    assert tpp.tokens is not None and tpp.tokens.refresh_token != old_refresh
    assert tpp.get("/open-banking/v1/accounts")
    info = tpp.introspect(tpp.tokens.access_token)
    assert info["active"] is True and info["cnf"]["jkt"] == tpp.dpop_key.thumbprint()
    assert tpp.introspect(old_refresh) == {"active": False}

    # The customer sees the grant under Connected apps and revokes it: the app is cut off.
    assert "1 个应用可以使用您的账户" in client.get("/app").text  # the home tile (zh_CN)
    page = client.get("/app/openbanking")
    assert "Budget Buddy" in page.text
    client.post(
        f"/app/openbanking/consents/{tokens.consent_id}/revoke",
        data={"csrf_token": csrf_of(page.text)},
    )
    try:
        tpp.get("/open-banking/v1/accounts")
        raise AssertionError("a revoked consent still answered")
    except OAuthRefused as refused:
        assert (refused.status, refused.error) == (401, "invalid_token")
    assert tpp.introspect(tpp.tokens.access_token) == {"active": False}


def test_customer_denies(
    platform: Platform, client: TestClient, clock: ManualClock, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    sign_in(client, clock, zhang)
    url, _ = tpp.push(ACCOUNT_ACCESS, state="s9")
    page = client.get(url)
    done = client.post(
        str(page.url),
        data={"decision": "reject", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    params = ThirdPartyApp.callback(returned_to(done))
    assert params == {"error": "access_denied", "state": "s9", "iss": ISSUER}
    consents = platform.openbanking.server.consents(Principal.customer(zhang.id))
    assert [c.status.value for c in consents] == ["rejected"]


def test_payment_consent_needs_step_up_then_pays_once(
    platform: Platform,
    client: TestClient,
    clock: ManualClock,
    zhang: Customer,
    merchant: Customer,
    tpp: ThirdPartyApp,
) -> None:
    sign_in(client, clock, zhang)
    details = [{"type": "payment", "instructed_amount": "25.50", "currency": "CNY",
                "creditor_account": merchant.current}]  # fmt: skip
    clock.advance(timedelta(minutes=6))  # the sign-in's second factor is no longer fresh
    url, verifier = tpp.push(details, state="p1")
    page = client.get(url)
    form = {"decision": "approve", "account_ids": [zhang.current], "csrf_token": csrf_of(page.text)}
    asked = client.post(str(page.url), data=form, follow_redirects=False)
    assert asked.status_code == 403 and 'name="code"' in asked.text  # a second factor first
    clock.advance(timedelta(seconds=30))
    form |= {"code": zhang.totp.at(clock.now()), "csrf_token": csrf_of(asked.text)}
    done = client.post(str(page.url), data=form, follow_redirects=False)
    tpp.exchange(ThirdPartyApp.callback(returned_to(done)), verifier=verifier, state="p1")

    paid = tpp.pay(amount="25.50", currency="CNY", creditor=merchant.current, key="order-1")
    again = tpp.pay(amount="25.50", currency="CNY", creditor=merchant.current, key="order-1")
    assert paid["status"] == "completed" and again["payment_id"] == paid["payment_id"]
    assert tpp.get(f"/open-banking/v1/payments/{paid['payment_id']}")["status"] == "completed"
    bank = platform.banking
    assert str(bank.balance(Principal.system(), zhang.current).balance.amount) == "974.50"
    assert str(bank.balance(Principal.system(), merchant.current).balance.amount) == "75.50"
    # A single-payment consent is consumed: a second payment under it is refused.
    consent = tpp.get(f"/open-banking/v1/consents/{paid['consent_id']}")
    assert consent["status"] == "consumed"
    with pytest.raises(OAuthRefused, match="insufficient_scope"):
        tpp.pay(amount="25.50", currency="CNY", creditor=merchant.current, key="order-2")
