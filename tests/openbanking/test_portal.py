"""The developer portal (``/console/developers``): a developer's key registers an app through
the form (HTMX, the console's CSRF rule), sees it pending, an operator approves it; the developer
sees only its own apps, usage and webhook deliveries and replays its own delivery only; a bad
field comes back named; a key without ``openbanking:write`` is refused."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.conftest import issue_key
from tests.openbanking.conftest import ISSUER, SYSTEM
from tests.settings_support import test_settings as settings_for
from tests.web.conftest import log_in
from thirdparty_app.client import new_key

from finbridge.core import ManualClock, Role
from finbridge.core.settings import OpenBankingSettings, RateLimitSettings
from finbridge.openbanking import SERVED, AppStatus
from finbridge.openbanking.webhooks import enqueue
from finbridge.platform import Platform
from finbridge.site import create_app
from finbridge.store.engine import unit_of_work

HX = {"HX-Request": "true", "Origin": ISSUER}


def _form(name: str, **extra: object) -> dict[str, object]:
    return {
        "name": name, "developer": f"{name} Ltd", "category": "budgeting",
        "description": "Tracks spending", "redirect_uris": f"https://{name.lower()}.example/cb\n",
        "jwks": json.dumps({"keys": [new_key().as_dict(private=False)]}),
        "scopes": ["accounts", "payments"],
    } | extra  # fmt: skip


def test_a_developer_registers_sees_and_replays_only_its_own(
    platform: Platform, client: TestClient, clock: ManualClock
) -> None:
    dev_a, dev_b = (issue_key(platform, [Role.PARTNER], n) for n in ("dev a", "dev b"))
    log_in(client, dev_a)
    assert "Register an app" in client.get("/console/developers").text
    assert (
        client.post("/console/developers/apps", data=_form("Alpha")).status_code == 403
    )  # no HTMX
    row = client.post("/console/developers/apps", data=_form("Alpha"), headers=HX)
    assert row.status_code == 200 and "Alpha" in row.text and "waiting for an operator" in row.text
    alpha = row.text.split("<code>")[1].split("</code>")[0]
    bad = client.post("/console/developers/apps", headers=HX,
                      data=_form("Gamma", redirect_uris="http://gamma.example/cb"))  # fmt: skip
    assert bad.status_code == 422 and "redirect_uris" in bad.text
    assert client.post("/console/developers/apps", headers=HX,
                       data=_form("Delta", jwks="{not json")).status_code == 422  # fmt: skip
    sandboxed = client.post("/console/developers/apps", data=_form("Sandy", sandbox="true"),
                            headers=HX)  # fmt: skip
    assert "sandbox" in sandboxed.text and "approved" in sandboxed.text

    platform.openbanking.apps.decide(SYSTEM, alpha, AppStatus.APPROVED)
    platform.openbanking.webhooks.set_endpoint(SYSTEM, alpha, "https://alpha.example/hooks")
    with unit_of_work(platform.engine) as session:
        enqueue(session, alpha, "consent.status_changed", {"status": "authorised"}, clock.now())
    platform.openbanking.usage.count(alpha, "balances", SERVED)
    page = client.get("/console/developers").text
    assert "approved" in page and "Sandbox customers" in page  # its sandbox app: its sandbox
    ada = page.split("<code>sbx_")[1].split("</code>")[0]  # <8 hex>_ada, its own customer
    assert ada.endswith("_ada") and f"<code>sbx_{ada}_1</code>" in page
    assert (
        "<td>Alpha</td><td>balances</td><td>served</td><td>1</td>"
        in page.split('id="dev-usage"')[1]
    )
    delivery = page.split('id="delivery-')[1].split('"')[0]
    assert (
        client.post(f"/console/openbanking/deliveries/{delivery}/replay", headers=HX).status_code
        == 200
    )

    # The sandbox's reset button puts it back as seeded and answers with the panel again.
    panel = page.split('<section class="panel" id="sandbox-')[1]
    mine = panel.split('name="developer" value="')[1].split('"')[0]
    assert client.post(
        "/console/developers/sandbox/reset", data={"developer": mine}
    ).status_code == (
        403  # not HTMX
    )
    reset = client.post("/console/developers/sandbox/reset", data={"developer": mine}, headers=HX)
    assert reset.status_code == 200 and f"<code>sbx_{ada}_1</code>" in reset.text

    log_in(client, dev_b)
    other = client.get("/console/developers").text
    assert "Alpha" not in other and delivery not in other and "No app yet" in other
    assert ada not in other  # another developer's sandbox is not shown
    assert (
        client.post("/console/developers/sandbox/reset", data={"developer": mine}, headers=HX)
    ).status_code == 403  # nor reset
    assert (
        client.post(f"/console/openbanking/deliveries/{delivery}/replay", headers=HX).status_code
        == 404
    )

    log_in(client, issue_key(platform, [Role.ADMIN], "ops"))  # operators see every sandbox
    assert f"<code>sbx_{ada}_1</code>" in client.get("/console/developers").text

    log_in(client, issue_key(platform, [Role.TELLER], "teller"))
    assert client.get("/console/developers").status_code == 403


def test_an_organisation_applies_an_operator_approves_its_code_fetches_the_key_once(
    platform: Platform, client: TestClient
) -> None:
    assert "Apply" in client.get("/console/developers/join").text  # public
    form = {"organisation": "Acme Budgeting", "website": "https://acme.example"}
    joined = client.post("/console/developers/join", data=form, headers=HX)
    assert joined.status_code == 200 and "pending" in joined.text
    code = joined.text.split('id="claim-code">')[1].split("<")[0]
    bad = client.post("/console/developers/join", data=form | {"website": "http://acme.example"},
                      headers=HX)  # fmt: skip
    assert bad.status_code == 422 and "website" in bad.text
    claim = {"code": code}
    assert "is pending" in client.post("/console/developers/claim", data=claim, headers=HX).text
    wrong = client.post("/console/developers/claim", data={"code": code + "x"}, headers=HX)
    assert wrong.status_code == 404

    log_in(client, issue_key(platform, [Role.PARTNER], "someone"))
    assert "Acme Budgeting" not in client.get("/console/developers").text  # operators only
    log_in(client, issue_key(platform, [Role.ADMIN], "ops"))
    page = client.get("/console/developers").text
    developer = page.split('id="developer-')[1].split('"')[0]
    approved = client.post(f"/console/developers/{developer}/approve", headers=HX)
    assert approved.status_code == 200 and "approved" in approved.text
    again = client.post(f"/console/developers/{developer}/reject", headers=HX)
    assert again.status_code == 422  # decided once

    fetched = client.post("/console/developers/claim", data=claim, headers=HX).text
    key = fetched.split('id="api-key">')[1].split("<")[0]
    assert (
        "fetched already" in client.post("/console/developers/claim", data=claim, headers=HX).text
    )
    log_in(client, key)  # the new developer's key opens the portal and registers apps
    row = client.post("/console/developers/apps", data=_form("Acme"), headers=HX)
    assert row.status_code == 200 and "waiting for an operator" in row.text


def test_applying_counts_against_the_per_ip_registration_limit(
    tmp_path: Path, sqlite_engine: Engine, clock: ManualClock
) -> None:
    settings = settings_for(
        tmp_path / "data",
        openbanking=OpenBankingSettings(issuer=ISSUER),
        rate_limits=RateLimitSettings(registration_per_ip="2/hour"),
    )
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    client = TestClient(create_app(platform=platform))
    form = {"organisation": "Flood Ltd", "website": "https://flood.example"}
    codes = [client.post("/console/developers/join", data=form, headers=HX).status_code
             for _ in range(3)]  # fmt: skip
    platform.close()
    assert codes == [200, 200, 429]
