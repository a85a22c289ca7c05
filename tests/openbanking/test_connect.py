"""The app store's one-click connect: OpenID Connect third-party-initiated login. Apps register
an ``initiate_login_uri`` (validated like redirect URIs); Connect sends the signed-in customer
there with ``iss`` and ``target_link_uri``; the example app checks both, pushes its request and
the customer lands on the consent screen. Apps without the URI show no button."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from tests.openbanking.conftest import ACCOUNT_ACCESS, ISSUER, REDIRECT, SYSTEM, Customer, sign_in
from thirdparty_app.client import OAuthRefused, ThirdPartyApp, new_key

from finbridge.core import ManualClock, Principal
from finbridge.core.errors import NotFound, PermissionDenied, ValidationError
from finbridge.openbanking import AppStatus
from finbridge.platform import Platform

INITIATE = "https://budget.example.com/connect?lang=en"


def _register(platform: Platform, name: str, initiate: str | None) -> tuple[str, object]:
    key = new_key()
    app = platform.openbanking.apps.register(
        SYSTEM,
        name=name,
        developer=f"{name} Ltd",
        redirect_uris=[REDIRECT],
        jwks={"keys": [key.as_dict(private=False) | {"kid": key.kid}]},
        scopes=["accounts"],
        category="budgeting",
        initiate_login_uri=initiate,
    )
    platform.openbanking.apps.decide(SYSTEM, app.client_id, AppStatus.APPROVED)
    return app.client_id, key


def test_connect_sends_the_customer_to_the_app_which_pushes_its_request(
    platform: Platform, client: TestClient, clock: ManualClock, zhang: Customer
) -> None:
    with_uri, key = _register(platform, "Budget Buddy", INITIATE)
    without, _ = _register(platform, "Ledger Lite", None)
    sign_in(client, clock, zhang)

    store = client.get("/app/openbanking")
    assert f'data-connect="{with_uri}"' in store.text
    assert f'data-connect="{without}"' not in store.text  # no URI, no button
    assert client.get(f"/app/openbanking/connect/{without}").status_code == 404

    r = client.get(f"/app/openbanking/connect/{with_uri}", follow_redirects=False)
    assert r.status_code == 303
    target = r.headers["location"]
    parts = urlsplit(target)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "budget.example.com", "/connect")
    params = parse_qs(parts.query)
    assert params == {
        "lang": ["en"],
        "iss": [ISSUER],
        "target_link_uri": ["https://budget.example.com/"],
    }

    # The example app's /connect: checks iss and target, pushes, the customer consents.
    tpp = ThirdPartyApp(
        http=TestClient(client.app),
        base_url=ISSUER,
        client_id=with_uri,
        signing_key=key,  # type: ignore[arg-type]
        redirect_uri=REDIRECT,
        now=lambda: clock.now().timestamp(),
    )
    url, _verifier = tpp.connect(target, ACCOUNT_ACCESS, state="st-c")
    page = client.get(url)
    assert page.status_code == 200 and "Budget Buddy" in page.text
    with pytest.raises(OAuthRefused, match="unknown issuer"):
        tpp.connect(target.replace("testserver", "evil.example"), ACCOUNT_ACCESS, state="x")
    forged = target.replace(
        "target_link_uri=https%3A%2F%2Fbudget", "target_link_uri=https%3A%2F%2Fevil"
    )
    with pytest.raises(OAuthRefused, match="not ours"):
        tpp.connect(forged, ACCOUNT_ACCESS, state="x")


def test_connect_only_for_customers_and_approved_apps(platform: Platform) -> None:
    ob = platform.openbanking
    client_id, _ = _register(platform, "Budget Buddy", INITIATE)
    with pytest.raises(PermissionDenied):
        ob.connect(SYSTEM, client_id)
    ob.apps.decide(SYSTEM, client_id, AppStatus.SUSPENDED)
    with pytest.raises(NotFound):
        ob.connect(Principal.customer("c1"), client_id)


@pytest.mark.parametrize(
    "uri",
    [
        "http://budget.example.com/connect",  # not https
        "/connect",  # not absolute
        "https://budget.example.com/connect#x",  # fragment
        "https://budget.example.com/" + "a" * 500,  # too long
    ],
)
def test_initiate_login_uri_is_validated_like_redirect_uris(platform: Platform, uri: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _register(platform, "Bad", uri)
    assert caught.value.field == "initiate_login_uri"


def test_loopback_http_allowed_outside_production_and_in_the_api(
    platform: Platform, client: TestClient
) -> None:
    from tests.api.conftest import issue_key

    from finbridge.core import Role

    dev = {"X-API-Key": issue_key(platform, [Role.PARTNER], "dev")}
    body = {
        "name": "Local",
        "developer": "Local Ltd",
        "redirect_uris": ["http://127.0.0.1:8765/cb"],
        "scopes": ["accounts"],
        "jwks": {"keys": [new_key().as_dict(private=False)]},
        "initiate_login_uri": "http://127.0.0.1:8765/connect",
    }
    r = client.post("/v1/openbanking/apps", json=body, headers=dev)
    assert r.status_code == 201 and r.json()["initiate_login_uri"] == body["initiate_login_uri"]
    bad = client.post(
        "/v1/openbanking/apps",
        json=body | {"initiate_login_uri": "http://app.example/connect"},
        headers=dev,
    )
    assert bad.status_code == 422 and bad.json()["field"] == "initiate_login_uri"


def test_the_example_app_serves_connect_beside_its_callback() -> None:
    import socket
    import threading
    import time

    import httpx
    from thirdparty_app.__main__ import wait_for_callback

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"

    def connect(initiated: str) -> str:
        if "iss=good" not in initiated:
            raise OAuthRefused(400, "invalid_request", "login initiated by an unknown issuer")
        return "https://bank.example/oauth2/authorize?request_uri=urn:x"

    caught: list[str] = []
    thread = threading.Thread(
        target=lambda: caught.append(wait_for_callback(f"{base}/callback", connect)), daemon=True
    )
    thread.start()
    for _ in range(100):  # until the loopback server listens
        try:
            r = httpx.get(f"{base}/connect?iss=good", follow_redirects=False)
            break
        except httpx.ConnectError:
            time.sleep(0.05)
    assert r.status_code == 303 and r.headers["location"].startswith("https://bank.example/")
    assert httpx.get(f"{base}/connect?iss=evil").status_code == 400
    assert httpx.get(f"{base}/callback?code=c1&state=s").status_code == 200
    thread.join(timeout=5)
    assert caught == [f"{base}/callback?code=c1&state=s"]
