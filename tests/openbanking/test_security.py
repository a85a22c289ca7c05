"""The issue's security cases: each refused with the right OAuth error, and audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from tests.openbanking.conftest import (
    ACCOUNT_ACCESS,
    ISSUER,
    REDIRECT,
    Customer,
    authorise,
    make_app,
    sign_in,
)
from thirdparty_app.client import OAuthRefused, ThirdPartyApp, new_key

from finbridge.core import ManualClock, Principal
from finbridge.platform import Platform

TOKEN_URL = f"{ISSUER}/oauth2/token"
PAR_URL = f"{ISSUER}/oauth2/par"


def refused(call: Any, status: int, error: str) -> OAuthRefused:
    with pytest.raises(OAuthRefused) as info:
        call()
    assert (info.value.status, info.value.error) == (status, error), info.value
    return info.value


def audited(platform: Platform, outcome: str) -> bool:
    return any(r.outcome == outcome for r in platform.openbanking.audit.recent(limit=200))


def audited_as(platform: Platform, action: str, outcome: str, detail: str = "") -> bool:
    """The refusal is in the audit trail with its action, outcome and reason."""
    return any(
        (r.action, r.outcome) == (action, outcome) and detail in r.detail
        for r in platform.openbanking.audit.recent(limit=200)
    )


@pytest.fixture
def signed_in(client: TestClient, clock: ManualClock, zhang: Customer) -> TestClient:
    sign_in(client, clock, zhang)
    return client


def connect(
    tpp: ThirdPartyApp, browser: TestClient, accounts: list[str], details: Any = None
) -> dict[str, str]:
    response = authorise(tpp, browser, details or ACCOUNT_ACCESS, accounts)
    tpp.exchange(response, verifier=tpp.verifier, state="st-1")  # type: ignore[attr-defined]
    return response


# -- the authorisation request --------------------------------------------------------------------
def test_a_request_not_pushed_is_refused(
    platform: Platform, client: TestClient, tpp: ThirdPartyApp
) -> None:
    r = client.get(
        "/oauth2/authorize",
        params={
            "client_id": tpp.client_id,
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "code_challenge": "x" * 43,
            "code_challenge_method": "S256",
        },
        follow_redirects=False,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    unknown = client.get(
        "/oauth2/authorize",
        params={
            "client_id": tpp.client_id,
            "request_uri": "urn:ietf:params:oauth:request_uri:nope",
        },
    )
    assert unknown.json()["error"] == "invalid_request_uri"
    assert audited(platform, "invalid_request")


@pytest.mark.parametrize(
    "redirect",
    [
        REDIRECT + "/",
        "https://budget.example.com:8443/callback",
        "https://evil.example.com/callback",
        "https://BUDGET.example.com/callback",
    ],
)
def test_an_unregistered_redirect_uri_is_refused(
    platform: Platform, tpp: ThirdPartyApp, redirect: str
) -> None:
    tpp.redirect_uri = redirect
    refused(lambda: tpp.push(ACCOUNT_ACCESS, state="s"), 400, "invalid_request")
    assert audited(platform, "invalid_request")


def test_a_request_uri_is_single_use_and_short_lived(
    signed_in: TestClient, clock: ManualClock, tpp: ThirdPartyApp
) -> None:
    url, _ = tpp.push(ACCOUNT_ACCESS, state="s")
    clock.advance(timedelta(seconds=91))
    r = signed_in.get(url, follow_redirects=False)
    assert r.status_code == 400 and r.json()["error"] == "invalid_request_uri"


def test_plain_pkce_and_other_response_types_are_refused(tpp: ThirdPartyApp) -> None:
    form = {
        "response_type": "code",
        "client_id": tpp.client_id,
        "redirect_uri": REDIRECT,
        "code_challenge": "a" * 43,
        "code_challenge_method": "plain",
        "authorization_details": "[]",
    }
    tpp.discover()
    refused(lambda: tpp._oauth_post(PAR_URL, form, dpop=False), 400, "invalid_request")
    form |= {"code_challenge_method": "S256", "response_type": "token"}
    refused(lambda: tpp._oauth_post(PAR_URL, form, dpop=False), 400, "unsupported_response_type")


# -- client authentication ------------------------------------------------------------------------
def _assertion(tpp: ThirdPartyApp, clock: ManualClock, **changes: Any) -> dict[str, str]:
    now = int(clock.now().timestamp())
    claims = {
        "iss": tpp.client_id,
        "sub": tpp.client_id,
        "aud": ISSUER,
        "jti": "fixed-jti-0001",
        "iat": now,
        "exp": now + 60,
    } | changes
    token = jwt.encode({"alg": "ES256", "kid": tpp.signing_key.kid}, claims, tpp.signing_key)
    return {
        "client_id": tpp.client_id,
        "client_assertion": token,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }


def test_private_key_jwt_reused_jti_wrong_audience_wrong_key(
    platform: Platform, client: TestClient, clock: ManualClock, tpp: ThirdPartyApp
) -> None:
    def introspect(form: dict[str, str]) -> Any:
        return client.post("/oauth2/introspect", data={"token": "x", **form})

    first = introspect(_assertion(tpp, clock))
    assert first.status_code == 200 and first.json() == {"active": False}
    again = introspect(_assertion(tpp, clock))  # the same jti a second time
    assert (again.status_code, again.json()["error"]) == (401, "invalid_client")
    for aud in (f"{ISSUER}/oauth2/token", "https://other-bank.example"):
        wrong = introspect(_assertion(tpp, clock, aud=aud, jti=f"jti-{aud}"))
        assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    expired = introspect(
        _assertion(tpp, clock, jti="jti-expired-1", exp=int(clock.now().timestamp()) - 1)
    )
    assert expired.json()["error"] == "invalid_client"
    tpp.signing_key = new_key()  # a key the app never registered
    forged = introspect(_assertion(tpp, clock, jti="jti-forged-01"))
    assert forged.json()["error"] == "invalid_client"
    assert audited(platform, "invalid_client")


def test_an_unapproved_app_cannot_authenticate(
    platform: Platform, client: TestClient, clock: ManualClock
) -> None:
    pending = make_app(platform, TestClient(client.app), clock, name="Pending", approve=False)
    refused(lambda: pending.push(ACCOUNT_ACCESS, state="s"), 401, "invalid_client")


# -- the token endpoint ---------------------------------------------------------------------------
def test_a_reused_code_is_refused_and_revokes_what_it_issued(
    platform: Platform, signed_in: TestClient, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    response = connect(tpp, signed_in, [zhang.current])
    assert tpp.get("/open-banking/v1/accounts")
    refused(
        lambda: tpp.exchange(response, verifier=tpp.verifier, state="st-1"), 400, "invalid_grant"
    )  # type: ignore[attr-defined]
    refused(lambda: tpp.get("/open-banking/v1/accounts"), 401, "invalid_token")
    refused(tpp.refresh, 400, "invalid_grant")
    assert audited(platform, "invalid_grant")


def test_a_wrong_pkce_verifier_is_refused(
    platform: Platform, signed_in: TestClient, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    response = authorise(tpp, signed_in, ACCOUNT_ACCESS, [zhang.current])
    refused(lambda: tpp.exchange(response, verifier="W" * 64, state="st-1"), 400, "invalid_grant")
    assert audited_as(platform, "token", "invalid_grant")


def test_an_expired_code_is_refused(
    signed_in: TestClient, clock: ManualClock, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    response = authorise(tpp, signed_in, ACCOUNT_ACCESS, [zhang.current])
    clock.advance(timedelta(seconds=61))
    refused(
        lambda: tpp.exchange(response, verifier=tpp.verifier, state="st-1"), 400, "invalid_grant"
    )  # type: ignore[attr-defined]


def test_the_code_is_bound_to_the_pushed_dpop_key(
    signed_in: TestClient, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    response = authorise(tpp, signed_in, ACCOUNT_ACCESS, [zhang.current])
    tpp.dpop_key = new_key()  # someone else holding the code, with another key
    refused(
        lambda: tpp.exchange(response, verifier=tpp.verifier, state="st-1"),
        400,
        "invalid_dpop_proof",
    )  # type: ignore[attr-defined]


def test_the_token_endpoint_needs_a_dpop_proof(
    client: TestClient, signed_in: TestClient, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    response = authorise(tpp, signed_in, ACCOUNT_ACCESS, [zhang.current])
    form = {
        "grant_type": "authorization_code",
        "code": response["code"],
        "redirect_uri": REDIRECT,
        "code_verifier": tpp.verifier,
        **tpp._assertion(),
    }  # type: ignore[attr-defined]
    r = client.post("/oauth2/token", data=form)
    assert (r.status_code, r.json()["error"]) == (400, "invalid_dpop_proof")


def test_a_replayed_refresh_token_revokes_the_family(
    platform: Platform, signed_in: TestClient, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    connect(tpp, signed_in, [zhang.current])
    assert tpp.tokens is not None
    stolen = tpp.tokens.refresh_token
    tpp.refresh()
    current = tpp.tokens
    tpp.tokens = type(current)(current.access_token, stolen, current.consent_id, 300)
    refused(tpp.refresh, 400, "invalid_grant")
    tpp.tokens = current
    refused(lambda: tpp.get("/open-banking/v1/accounts"), 401, "invalid_token")


# -- resource requests: DPoP binding -------------------------------------------------------------
def test_a_token_without_its_proof_another_keys_proof_or_a_replayed_proof(
    platform: Platform,
    client: TestClient,
    signed_in: TestClient,
    zhang: Customer,
    tpp: ThirdPartyApp,
) -> None:
    connect(tpp, signed_in, [zhang.current])
    assert tpp.tokens is not None
    token = tpp.tokens.access_token
    url = f"{ISSUER}/open-banking/v1/accounts"

    as_bearer = client.get(url, headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401 and as_bearer.json()["error"] == "invalid_token"
    assert as_bearer.headers["WWW-Authenticate"].startswith("DPoP ")
    no_proof = client.get(url, headers={"Authorization": f"DPoP {token}"})
    assert (no_proof.status_code, no_proof.json()["error"]) == (401, "invalid_dpop_proof")

    thief = ThirdPartyApp(
        http=client,
        base_url=ISSUER,
        client_id="x",
        signing_key=new_key(),
        redirect_uri=REDIRECT,
        now=tpp.now,
    )
    other_key = client.get(
        url,
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": thief.proof("GET", url, access_token=token),
        },
    )
    assert (other_key.status_code, other_key.json()["error"]) == (401, "invalid_dpop_proof")

    proof = tpp.proof("GET", url, access_token=token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    assert client.get(url, headers=headers).status_code == 200
    replay = client.get(url, headers=headers)
    assert (replay.status_code, replay.json()["error"]) == (401, "invalid_dpop_proof")

    wrong_uri = client.get(
        url,
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": tpp.proof("GET", f"{ISSUER}/open-banking/v1/payments", access_token=token),
        },
    )
    assert wrong_uri.json()["error"] == "invalid_dpop_proof"
    wrong_method = client.get(
        url,
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": tpp.proof("POST", url, access_token=token),
        },
    )
    assert wrong_method.json()["error"] == "invalid_dpop_proof"
    no_ath = client.get(
        url, headers={"Authorization": f"DPoP {token}", "DPoP": tpp.proof("GET", url)}
    )
    assert no_ath.json()["error"] == "invalid_dpop_proof"
    stale = ThirdPartyApp(
        http=client,
        base_url=ISSUER,
        client_id="x",
        signing_key=new_key(),
        redirect_uri=REDIRECT,
        dpop_key=tpp.dpop_key,
        now=lambda: tpp.now() - 600,
    )
    old = client.get(
        url,
        headers={
            "Authorization": f"DPoP {token}",
            "DPoP": stale.proof("GET", url, access_token=token),
        },
    )
    assert old.json()["error"] == "invalid_dpop_proof"
    assert audited(platform, "invalid_dpop_proof")


def test_an_expired_access_token_is_refused(
    signed_in: TestClient, clock: ManualClock, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    connect(tpp, signed_in, [zhang.current])
    clock.advance(timedelta(seconds=301))
    refused(lambda: tpp.get("/open-banking/v1/accounts"), 401, "invalid_token")
    tpp.refresh()
    assert tpp.get("/open-banking/v1/accounts")


def test_a_server_nonce_when_required(
    platform: Platform, signed_in: TestClient, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    platform.openbanking.server.dpop.require_nonce = (
        True  # FINBRIDGE_OPENBANKING__REQUIRE_DPOP_NONCE
    )
    connect(tpp, signed_in, [zhang.current])  # the client retried with the nonce it was given
    assert tpp.nonce is not None
    assert tpp.get("/open-banking/v1/accounts")
    assert audited(platform, "use_dpop_nonce")


# -- consents ------------------------------------------------------------------------------
def test_an_expired_or_revoked_consent_is_refused(
    platform: Platform,
    signed_in: TestClient,
    clock: ManualClock,
    zhang: Customer,
    tpp: ThirdPartyApp,
) -> None:
    short = [ACCOUNT_ACCESS[0] | {"expires_in_days": 1}]
    connect(tpp, signed_in, [zhang.current], short)
    clock.advance(timedelta(days=1, seconds=1))
    # The access token has expired too, and refreshing is refused.
    refused(tpp.refresh, 400, "invalid_grant")
    assert audited_as(platform, "token", "invalid_grant")
    consents = platform.openbanking.server.consents(Principal.customer(zhang.id))
    assert [c.status.value for c in consents] == ["expired"]

    sign_in(signed_in, clock, zhang)  # a day later the app session has ended too
    connect(tpp, signed_in, [zhang.current])
    assert tpp.tokens is not None
    platform.openbanking.server.revoke_consent(Principal.customer(zhang.id), tpp.tokens.consent_id)
    refused(lambda: tpp.get("/open-banking/v1/accounts"), 401, "invalid_token")
    assert audited_as(platform, "resource", "invalid_token", "/open-banking/v1/accounts")
    refused(tpp.refresh, 400, "invalid_grant")


def test_transactions_outside_the_consented_range(
    platform: Platform, signed_in: TestClient, zhang: Customer, tpp: ThirdPartyApp
) -> None:
    connect(tpp, signed_in, [zhang.current])
    path = f"/open-banking/v1/accounts/{zhang.current}/transactions"
    refused(lambda: tpp.get(path, from_booking_date="2026-09-30"), 400, "invalid_request")
    refused(lambda: tpp.get(path, to_booking_date="2027-12-31"), 400, "invalid_request")
    assert audited_as(platform, "transactions", "refused", "outside the consented date range")
    assert len(tpp.get(path, from_booking_date="2026-10-01")) == 1


def test_an_account_or_permission_not_in_the_consent(
    platform: Platform,
    signed_in: TestClient,
    zhang: Customer,
    merchant: Customer,
    tpp: ThirdPartyApp,
) -> None:
    only_accounts = [{"type": "account_access", "permissions": ["accounts"]}]
    connect(tpp, signed_in, [zhang.current], only_accounts)
    refused(
        lambda: tpp.get(f"/open-banking/v1/accounts/{zhang.current}/balances"),
        403,
        "insufficient_scope",
    )
    assert audited_as(platform, "balances", "refused", "permission not granted")
    connect(tpp, signed_in, [zhang.current])
    for other in (zhang.savings, merchant.current):
        refused(
            lambda other=other: tpp.get(f"/open-banking/v1/accounts/{other}/balances"),
            403,
            "insufficient_scope",
        )
    refused(
        lambda: tpp.pay(amount="1.00", currency="CNY", creditor=merchant.current, key="k"),
        403,
        "insufficient_scope",
    )
    assert audited_as(platform, "balances", "refused", f"account {merchant.current} not in")
    assert audited_as(platform, "payment", "refused", "account-access consent")


def test_the_customer_cannot_grant_someone_elses_account(
    signed_in: TestClient, zhang: Customer, merchant: Customer, tpp: ThirdPartyApp
) -> None:
    url, _ = tpp.push(ACCOUNT_ACCESS, state="s")
    page = signed_in.get(url)
    from tests.openbanking.conftest import csrf_of

    r = signed_in.post(
        str(page.url),
        data={
            "decision": "approve",
            "account_ids": [merchant.current],
            "csrf_token": csrf_of(page.text),
        },
        follow_redirects=False,
    )
    assert r.status_code == 404


def test_payments_over_a_mandate(
    platform: Platform,
    signed_in: TestClient,
    zhang: Customer,
    merchant: Customer,
    tpp: ThirdPartyApp,
) -> None:
    mandate = [
        {
            "type": "payment_mandate",
            "currency": "CNY",
            "creditor_account": merchant.current,
            "max_per_payment": "100.00",
            "max_total": "150.00",
            "expires_in_days": 30,
        }
    ]
    connect(tpp, signed_in, [zhang.current], mandate)
    pay = tpp.pay
    assert (
        pay(amount="100.00", currency="CNY", creditor=merchant.current, key="m1")["status"]
        == "completed"
    )
    refused(
        lambda: pay(amount="100.01", currency="CNY", creditor=merchant.current, key="m2"),
        403,
        "insufficient_scope",
    )
    refused(
        lambda: pay(amount="60.00", currency="CNY", creditor=merchant.current, key="m3"),
        403,
        "insufficient_scope",
    )
    refused(
        lambda: pay(amount="10.00", currency="CNY", creditor=zhang.savings, key="m4"),
        403,
        "insufficient_scope",
    )
    assert (
        pay(amount="50.00", currency="CNY", creditor=merchant.current, key="m5")["status"]
        == "completed"
    )
    for reason in ("per-payment limit", "mandate's total", "creditor differs"):
        assert audited_as(platform, "payment", "refused", reason), reason
    bank = platform.banking
    assert str(bank.balance(Principal.system(), merchant.current).balance.amount) == "200.00"
    # The same key with another amount: the stored payment is not silently reused.
    refused(
        lambda: pay(amount="1.00", currency="CNY", creditor=merchant.current, key="m1"),
        409,
        "idempotency_conflict",
    )


def test_an_app_calling_another_apps_consent(
    platform: Platform,
    client: TestClient,
    signed_in: TestClient,
    clock: ManualClock,
    zhang: Customer,
    merchant: Customer,
    tpp: ThirdPartyApp,
) -> None:
    payment = [
        {
            "type": "payment",
            "instructed_amount": "5.00",
            "currency": "CNY",
            "creditor_account": merchant.current,
        }
    ]
    connect(tpp, signed_in, [zhang.current], payment)
    paid = tpp.pay(amount="5.00", currency="CNY", creditor=merchant.current, key="p")
    other = make_app(platform, TestClient(client.app), clock, name="Other App")
    connect(other, signed_in, [zhang.current])
    refused(lambda: other.get(f"/open-banking/v1/consents/{paid['consent_id']}"), 404, "not_found")
    refused(lambda: other.get(f"/open-banking/v1/payments/{paid['payment_id']}"), 404, "not_found")
    assert audited_as(platform, "consent.read", "not_found", "another app's")
    assert audited_as(platform, "payment.read", "refused", "another app's")
    assert tpp.tokens is not None and other.tokens is not None
    # Another app's access token, presented with this app's key, is useless.
    other.tokens = tpp.tokens
    refused(lambda: other.get("/open-banking/v1/accounts"), 401, "invalid_dpop_proof")
    assert audited_as(platform, "resource", "invalid_dpop_proof")
    # Nor can an app introspect, refresh or revoke another app's tokens.
    assert other.introspect(tpp.tokens.access_token) == {"active": False}
    refused(other.refresh, 400, "invalid_grant")


def test_a_suspended_app_is_cut_off_and_amounts_must_be_positive(
    platform: Platform,
    signed_in: TestClient,
    zhang: Customer,
    merchant: Customer,
    tpp: ThirdPartyApp,
) -> None:
    from finbridge.openbanking import AppStatus

    mandate = [
        {
            "type": "payment_mandate",
            "currency": "CNY",
            "creditor_account": merchant.current,
            "max_per_payment": "10.00",
            "max_total": "20.00",
        }
    ]
    connect(tpp, signed_in, [zhang.current], mandate)
    refused(
        lambda: tpp.pay(amount="-5.00", currency="CNY", creditor=merchant.current, key="neg"),
        400,
        "invalid_request",
    )
    platform.openbanking.apps.decide(Principal.system(), tpp.client_id, AppStatus.SUSPENDED)
    refused(
        lambda: tpp.get(f"/open-banking/v1/consents/{tpp.tokens.consent_id}"), 401, "invalid_token"
    )  # type: ignore[union-attr]
    refused(tpp.refresh, 401, "invalid_client")
