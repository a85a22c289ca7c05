"""The operators' console page: an app awaiting approval approved with one HTMX click, the
consents search and the audit trail."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.api.conftest import issue_key
from tests.openbanking.conftest import ISSUER, make_app
from tests.web.conftest import log_in

from finbridge.core import ManualClock, Role
from finbridge.openbanking import SERVED, refused
from finbridge.platform import Platform

HX = {"HX-Request": "true", "Origin": ISSUER}


def test_operator_approves_a_pending_app(
    platform: Platform, client: TestClient, clock: ManualClock
) -> None:
    pending = make_app(platform, client, clock, name="Tally", approve=False)
    assert client.get("/console/openbanking", follow_redirects=False).status_code in (302, 303, 307)
    log_in(client, issue_key(platform, [Role.ADMIN]))
    page = client.get("/console/openbanking")
    assert page.status_code == 200 and "Apps awaiting approval (1)" in page.text
    assert "Tally" in page.text and 'href="/console/openbanking"' in page.text
    url = f"/console/openbanking/apps/{pending.client_id}/approve"
    assert client.post(url).status_code in (400, 403)  # not HTMX: refused
    row = client.post(url, headers=HX)
    assert row.status_code == 200 and "approved" in row.text
    assert "Apps awaiting approval (0)" in client.get("/console/openbanking").text
    assert "Webhook deliveries" in client.get("/console/openbanking").text


def test_a_teller_cannot_approve_apps(
    platform: Platform, client: TestClient, clock: ManualClock
) -> None:
    pending = make_app(platform, client, clock, name="Tally", approve=False)
    log_in(client, issue_key(platform, [Role.TELLER]))
    page = client.get("/console/openbanking")
    assert page.status_code == 200 and "need the <code>openbanking:read</code> scope" in page.text
    r = client.post(f"/console/openbanking/apps/{pending.client_id}/approve", headers=HX)
    assert r.status_code == 403


def test_operators_see_each_apps_api_usage(
    platform: Platform, client: TestClient, clock: ManualClock
) -> None:
    tally = make_app(platform, client, clock, name="Tally")
    meter = platform.openbanking.usage
    for _ in range(4):
        meter.count(tally.client_id, "balances", SERVED)
    meter.count(tally.client_id, "balances", refused("invalid_dpop_proof"))
    log_in(client, issue_key(platform, [Role.ADMIN]))
    page = client.get("/console/openbanking")
    assert page.status_code == 200
    usage = page.text.split('id="ob-usage"')[1].split("</table>")[0]
    assert "<td>Tally</td><td>balances</td><td>served</td><td>4</td>" in usage
    assert "<td>refused:invalid_dpop_proof</td><td>1</td>" in usage
    assert "2026-11-02" in usage
