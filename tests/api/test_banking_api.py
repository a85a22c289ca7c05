"""Banking over HTTP with real API keys on real databases: happy paths and idempotency."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.conftest import Api, customer_api, issue_key, make_platform

from finbridge.core import ManualClock, Role, Settings
from finbridge.site import create_app


@pytest.fixture
def both(settings: Settings, engine: Engine, clock: ManualClock) -> Api:
    """An admin client on SQLite and on PostgreSQL in turn."""
    platform = make_platform(settings, engine, clock)
    key = issue_key(platform, [Role.ADMIN])
    return Api(TestClient(create_app(platform=platform)), {"Authorization": f"Bearer {key}"})


def test_customer_account_deposit_transfer_history(both: Api) -> None:
    ada = both.account(both.customer("Ada"))
    bob = both.account(both.customer("Bob"))
    both.deposit(ada, "250.00")
    response = both.post(
        "/v1/transfers",
        json={"from_account_id": ada, "to_account_id": bob, "amount": "80.25", "currency": "CNY"},
        headers={"Idempotency-Key": "rent-2026-11"},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["amount"] == "80.25"
    assert body["replayed"] is False
    assert both.balance(ada) == "169.75"
    assert both.balance(bob) == "80.25"
    history = both.get(f"/v1/accounts/{ada}/transactions").json()
    assert [(i["kind"], i["amount"]) for i in history["items"]] == [
        ("transfer", "-80.25"),
        ("deposit", "250.00"),
    ]
    assert history["items"][0]["balance_after"] == "169.75"


def test_retry_with_same_key_returns_first_result_and_posts_once(both: Api) -> None:
    ada = both.account(both.customer("Ada"))
    bob = both.account(both.customer("Bob"))
    both.deposit(ada, "100.00")
    body = {"from_account_id": ada, "to_account_id": bob, "amount": "10.00", "currency": "CNY"}
    first = both.post("/v1/transfers", json=body, headers={"Idempotency-Key": "k-1"})
    again = both.post("/v1/transfers", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.json()["entry_id"] == first.json()["entry_id"]
    assert again.json()["replayed"] is True
    assert both.balance(ada) == "90.00"


def test_hold_capture_and_release(both: Api) -> None:
    ada = both.account(both.customer("Ada"))
    shop = both.account(both.customer("Shop"))
    both.deposit(ada, "100.00")
    hold = both.post(
        "/v1/holds",
        json={"account_id": ada, "amount": "30.00", "currency": "CNY"},
        headers={"Idempotency-Key": "h-1"},
    )
    assert hold.status_code == 201, hold.text
    balance = both.get(f"/v1/accounts/{ada}/balance").json()
    assert (balance["balance"], balance["held"], balance["available"]) == (
        "100.00",
        "30.00",
        "70.00",
    )
    captured = both.post(
        f"/v1/holds/{hold.json()['id']}/capture",
        json={"to_account_id": shop, "amount": "25.00", "currency": "CNY"},
        headers={"Idempotency-Key": "c-1"},
    )
    assert captured.status_code == 200, captured.text
    assert both.balance(ada) == "75.00"
    assert both.get(f"/v1/accounts/{ada}/balance").json()["held"] == "0.00"
    second = both.post(
        "/v1/holds",
        json={"account_id": ada, "amount": "5.00", "currency": "CNY"},
        headers={"Idempotency-Key": "h-2"},
    ).json()
    released = both.post(f"/v1/holds/{second['id']}/release")
    assert released.json()["status"] == "released"
    assert both.get(f"/v1/accounts/{ada}/balance").json()["available"] == "75.00"


def test_frozen_account_refuses_debits_until_unfrozen(both: Api) -> None:
    ada = both.account(both.customer("Ada"))
    bob = both.account(both.customer("Bob"))
    both.deposit(ada, "50.00")
    frozen = both.post(f"/v1/accounts/{ada}/freeze", json={"reason": "card reported stolen"})
    assert frozen.json()["status"] == "frozen"
    body = {"from_account_id": ada, "to_account_id": bob, "amount": "1.00", "currency": "CNY"}
    refused = both.post("/v1/transfers", json=body, headers={"Idempotency-Key": "f-1"})
    assert refused.status_code == 422
    assert refused.json()["code"] == "account_not_active"
    assert both.balance(ada) == "50.00"
    both.post(f"/v1/accounts/{ada}/unfreeze", json={"reason": "card found"})
    ok = both.post("/v1/transfers", json=body, headers={"Idempotency-Key": "f-2"})
    assert ok.status_code == 201


def test_lists_and_lookups(both: Api) -> None:
    cid = both.customer("Ada")
    usd = both.account(cid, "USD")
    both.account(cid, "EUR", kind="savings")
    customers = both.get("/v1/customers").json()
    assert [c["display_name"] for c in customers["items"]] == ["Ada"]
    assert both.get(f"/v1/customers/{cid}").json()["kind"] == "personal"
    accounts = both.get("/v1/accounts", params={"customer_id": cid}).json()["items"]
    assert sorted(a["currency"] for a in accounts) == ["EUR", "USD"]
    assert both.get(f"/v1/accounts/{usd}").json()["balance"] == "0.00"


def test_customer_sees_own_accounts_only(api_app, api_platform, admin: Api) -> None:  # type: ignore[no-untyped-def]
    ada_id = admin.customer("Ada")
    ada = admin.account(ada_id)
    bob = admin.account(admin.customer("Bob"))
    as_ada = customer_api(api_app, api_platform, ada_id)
    assert as_ada.get(f"/v1/accounts/{ada}/balance").status_code == 200
    other = as_ada.get(f"/v1/accounts/{bob}/balance")
    assert other.status_code == 404  # another customer's account does not exist for Ada
    assert other.json()["field"] == "account_id"
    assert as_ada.get("/v1/customers").status_code == 403
    mine = as_ada.get("/v1/accounts").json()["items"]
    assert [a["id"] for a in mine] == [ada]


def test_openapi_documents_string_amounts_and_the_idempotency_header(admin: Api) -> None:
    spec = admin.client.get("/openapi.json").json()
    transfer = spec["paths"]["/v1/transfers"]["post"]
    headers = [p["name"] for p in transfer["parameters"] if p["in"] == "header"]
    assert "Idempotency-Key" in headers
    schema = spec["components"]["schemas"]["TransferCreate"]["properties"]["amount"]
    assert schema["type"] == "string"
    assert admin.client.get("/docs").status_code == 200


def test_racing_retries_over_http_post_once(both: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ada = both.account(both.customer("Ada"))
    bob = both.account(both.customer("Bob"))
    both.deposit(ada, "100.00")
    body = {"from_account_id": ada, "to_account_id": bob, "amount": "7.00", "currency": "CNY"}

    def attempt(_: int) -> tuple[int, str]:
        r = both.post("/v1/transfers", json=body, headers={"Idempotency-Key": "race-1"})
        return r.status_code, r.json().get("entry_id", r.text)

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(attempt, range(16)))
    assert {status for status, _ in results} == {201}
    assert len({entry for _, entry in results}) == 1  # every retry got the first result
    assert both.balance(ada) == "93.00"
    assert both.balance(bob) == "7.00"
    history = both.get(f"/v1/accounts/{ada}/transactions").json()["items"]
    assert [i["kind"] for i in history] == ["transfer", "deposit"]
