"""Console banking pages: customers, an account's history, freeze/unfreeze; errors as HTML."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.web.conftest import HX, log_in

from finbridge.core import Role
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform
from finbridge.site import create_app

UNKNOWN_ID = "01890000-0000-7000-8000-000000000000"


def _client(platform: Platform, role: Role = Role.ADMIN) -> TestClient:
    secret = platform.settings.secret_key.get_secret_value()
    key = ApiKeyService(platform.engine, platform.clock, secret).issue("op", [role]).plaintext
    client = TestClient(create_app(platform=platform))
    log_in(client, key)
    return client


def _link(html: str, prefix: str) -> str:
    found = re.search(rf'href="({prefix}[^"]+)"', html)
    assert found is not None, prefix
    return found.group(1)


def _first_account(client: TestClient) -> str:
    customer = client.get(_link(client.get("/console/banking").text, "/console/banking/customers/"))
    return _link(customer.text, "/console/banking/accounts/")


def test_browse_customer_account_and_history(seeded_platform: Platform) -> None:
    client = _client(seeded_platform)
    listing = client.get("/console/banking")
    assert listing.status_code == 200
    assert listing.text.count("Taiwan client") == 40
    customer = client.get(_link(listing.text, "/console/banking/customers/"))
    assert "TWD" in customer.text
    account = client.get(_link(customer.text, "/console/banking/accounts/"))
    assert account.status_code == 200
    assert "opening_balance" in account.text
    assert account.text.count("card_payment") >= 1


def test_freeze_and_unfreeze_through_htmx(seeded_platform: Platform) -> None:
    client = _client(seeded_platform)
    base = _first_account(client)
    frozen = client.post(f"{base}/freeze", data={"reason": "suspected fraud"}, headers=HX)
    assert frozen.status_code == 200
    assert '<div class="value">frozen</div>' in frozen.text
    assert "Unfreeze" in frozen.text
    missing = client.post(f"{base}/unfreeze", data={}, headers=HX)
    assert missing.status_code == 422
    assert 'role="alert"' in missing.text and "reason" in missing.text  # an HTML fragment
    thawed = client.post(f"{base}/unfreeze", data={"reason": "customer confirmed"}, headers=HX)
    assert '<div class="value">open</div>' in thawed.text


def test_errors_render_as_html_in_the_console_and_json_in_the_api(
    seeded_platform: Platform,
) -> None:
    client = _client(seeded_platform)
    page = client.get(f"/console/banking/accounts/{UNKNOWN_ID}")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "not found" in page.text and "<nav>" in page.text
    api = client.get(f"/v1/accounts/{UNKNOWN_ID}")  # the console cookie also works for /v1
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"


def test_scope_is_enforced_by_the_service(seeded_platform: Platform) -> None:
    client = _client(seeded_platform, Role.PARTNER)
    refused = client.get("/console/banking")
    assert refused.status_code == 403
    assert "lacks scope" in refused.text
