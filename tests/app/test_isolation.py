"""Customers only ever see their own data: every app URL with an id in its path, walked as
customer A with customer B's ids (and with ids that do not exist), answers 404 and changes
nothing; forms that name an account do the same."""

from __future__ import annotations

import uuid

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from finbridge.app import APP_PAGES
from finbridge.core import ManualClock, Principal
from finbridge.platform import Platform

from .conftest import SYSTEM, Customer, csrf_of, sign_in


def _b_objects(
    platform: Platform, clock: ManualClock, client: TestClient, li: Customer
) -> dict[str, str]:
    """Real objects of customer B, by the path parameter names the app uses."""
    message = platform.identity.inbox.deliver(SYSTEM, li.id, kind="notice", title="B's", body="b")
    consent = platform.identity.consents.grant(li.principal, li.id, "marketing", ["contact"])
    b_client = TestClient(client.app)
    sign_in(b_client, clock, li)
    b_session = platform.identity.authenticate(b_client.cookies["finbridge_app"]).session_id
    assert b_session
    return {
        "account_id": li.current,
        "message_id": message.id,
        "consent_id": consent.id,
        "session_id": b_session,
    }


def _app_routes() -> list[tuple[str, str]]:
    """Every route of every router in the app's registry whose path carries an id."""
    routes = []
    for router, _entry in APP_PAGES:
        for route in router.routes:
            if isinstance(route, APIRoute) and "{" in route.path:
                assert route.path.startswith("/app/")
                routes.extend((m, route.path) for m in sorted(route.methods - {"HEAD"}))
    return routes


def test_every_app_url_with_b_ids_is_404(
    signed_in: TestClient, platform: Platform, clock: ManualClock, zhang: Customer, li: Customer
) -> None:
    b_ids = _b_objects(platform, clock, signed_in, li)
    routes = _app_routes()
    assert len(routes) >= 5
    walked = 0
    for method, path in routes:
        for ids in (b_ids, {}):  # B's real ids, then ids that exist nowhere
            url = path
            while "{" in url:
                name = url.split("{", 1)[1].split("}", 1)[0]
                url = url.replace("{" + name + "}", ids.get(name, str(uuid.uuid4())))
            token = csrf_of(signed_in.get("/app/messages").text)
            if method == "GET":
                r = signed_in.get(url, follow_redirects=False)
            else:
                r = signed_in.post(url, data={"csrf_token": token}, follow_redirects=False)
            assert r.status_code == 404, (method, path, r.status_code, r.text[:300])
            walked += 1
    assert walked == 2 * len(routes)
    # Nothing of B's changed: the message is unread, the consent and session live on.
    assert platform.identity.inbox.unread_count(li.principal, li.id) == 1
    assert platform.identity.consents.has_consent(li.id, "marketing")
    assert any(
        s.id == b_ids["session_id"] for s in platform.identity.sessions.list(li.principal, li.id)
    )


def test_forms_naming_b_accounts_are_404(
    signed_in: TestClient, platform: Platform, zhang: Customer, li: Customer
) -> None:
    page = signed_in.get("/app/transfers")
    token = csrf_of(page.text)
    key = page.text.split('name="key" value="')[1].split('"')[0]
    r = signed_in.post(
        "/app/transfers",
        data={"csrf_token": token, "key": key, "from_account": li.current,
              "to_account": zhang.current, "amount": "10"},
    )  # fmt: skip
    assert r.status_code == 404
    assert str(platform.banking.get_account(SYSTEM, li.current).balance.amount) == "50.00"
    step = signed_in.post(
        "/app/transfers/confirm",
        data={"csrf_token": token, "key": key, "from_account": li.current,
              "to_account": zhang.current, "amount": "10", "code": "123456"},
    )  # fmt: skip
    assert step.status_code in (401, 404)
    assert str(platform.banking.get_account(SYSTEM, li.current).balance.amount) == "50.00"
    # B's account page and a probe through the transfer form's ?from= prefill show nothing.
    assert signed_in.get(f"/app/accounts/{li.current}").status_code == 404
    assert li.current not in signed_in.get(f"/app/transfers?from={li.current}").text
    assert Principal.customer(zhang.id).can_act_for(zhang.id)
