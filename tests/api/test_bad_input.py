"""Bad input gets a clear problem+json naming the field, and changes nothing.

Each case runs against two funded accounts; afterwards both balances and both histories are
exactly as before.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.conftest import Api, customer_api, issue_key, make_platform

from finbridge.banking.guard import ApproveAll
from finbridge.core import ManualClock, Role, Settings
from finbridge.core.settings import ApiSettings
from finbridge.site import create_app

UNKNOWN_ID = "01890000-0000-7000-8000-000000000000"


def _snapshot(api: Api, *accounts: str) -> list[tuple[str, int]]:
    out = []
    for acc in accounts:
        history = api.get(f"/v1/accounts/{acc}/transactions").json()["items"]
        out.append((api.balance(acc), len(history)))
    return out


def _transfer(src: str, dst: str, **override: Any) -> dict[str, Any]:
    body = {"from_account_id": src, "to_account_id": dst, "amount": "10.00", "currency": "CNY"}
    body.update(override)
    return body


CASES: list[tuple[str, Any, int, str, str]] = [
    # id, body builder (src, dst) -> (json body or raw bytes), status, field, words in detail
    (
        "json-number-amount",
        lambda s, d: _transfer(s, d, amount=10.5),
        422,
        "amount",
        "not a JSON number",
    ),
    ("negative-amount", lambda s, d: _transfer(s, d, amount="-5.00"), 422, "amount", "positive"),
    (
        "zero-amount",
        lambda s, d: _transfer(s, d, amount="0.00"),
        422,
        "amount",
        "greater than zero",
    ),
    (
        "over-precise-amount",
        lambda s, d: _transfer(s, d, amount="1.001"),
        422,
        "amount",
        "more decimal places than CNY",
    ),
    ("not-a-number", lambda s, d: _transfer(s, d, amount="ten"), 422, "amount", "decimal string"),
    ("wrong-currency", lambda s, d: _transfer(s, d, currency="USD"), 422, "currency", "holds CNY"),
    (
        "unsupported-currency",
        lambda s, d: _transfer(s, d, currency="XYZ"),
        422,
        "currency",
        "unsupported currency",
    ),
    (
        "lowercase-currency",
        lambda s, d: _transfer(s, d, currency="cny"),
        422,
        "currency",
        "pattern",
    ),
    # The refusal names the leg that failed: the destination here.
    ("unknown-account", lambda s, d: _transfer(s, UNKNOWN_ID), 404, "to_account_id", "not found"),
    (
        "malformed-account-id",
        lambda s, d: _transfer("not-an-id", d),
        404,
        "from_account_id",
        "not found",
    ),
    ("unknown-field", lambda s, d: {**_transfer(s, d), "amout": "1"}, 422, "amout", "Extra inputs"),
    (
        "missing-field",
        lambda s, d: {"from_account_id": s, "amount": "1.00", "currency": "CNY"},
        422,
        "to_account_id",
        "required",
    ),
    (
        "insufficient-funds",
        lambda s, d: _transfer(s, d, amount="5000.00"),
        422,
        "amount",
        "available",
    ),
    ("same-account", lambda s, d: _transfer(s, s), 422, "to_account_id", "same account"),
    (
        "malformed-json",
        lambda s, d: b'{"from_account_id": "' + s.encode() + b'", amount',
        422,
        "body",
        "malformed JSON",
    ),
]


@pytest.mark.parametrize(
    ("name", "build", "status", "field", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_transfer_is_refused_and_changes_nothing(
    admin: Api, name: str, build: Any, status: int, field: str, words: str
) -> None:
    src = admin.account(admin.customer("Ada"))
    dst = admin.account(admin.customer("Bob"))
    admin.deposit(src, "100.00")
    before = _snapshot(admin, src, dst)
    body = build(src, dst)
    kwargs: dict[str, Any] = (
        {"content": body, "headers": {"Content-Type": "application/json", "Idempotency-Key": name}}
        if isinstance(body, bytes)
        else {"json": body, "headers": {"Idempotency-Key": name}}
    )
    response = admin.post("/v1/transfers", **kwargs)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == field
    assert words in problem["detail"]
    assert problem["status"] == status
    assert _snapshot(admin, src, dst) == before


def test_missing_idempotency_key_names_the_header(admin: Api) -> None:
    src = admin.account(admin.customer("Ada"))
    dst = admin.account(admin.customer("Bob"))
    admin.deposit(src, "100.00")
    before = _snapshot(admin, src, dst)
    response = admin.post("/v1/transfers", json=_transfer(src, dst))
    assert response.status_code == 422
    assert response.json()["field"] == "Idempotency-Key"
    assert "Idempotency-Key header is required" in response.json()["detail"]
    for path, body in [
        (f"/v1/accounts/{src}/deposits", {"amount": "1.00", "currency": "CNY"}),
        ("/v1/holds", {"account_id": src, "amount": "1.00", "currency": "CNY"}),
    ]:
        assert admin.post(path, json=body).json()["field"] == "Idempotency-Key"
    assert _snapshot(admin, src, dst) == before


def test_reused_idempotency_key_with_other_body_conflicts(admin: Api) -> None:
    src = admin.account(admin.customer("Ada"))
    dst = admin.account(admin.customer("Bob"))
    admin.deposit(src, "100.00")
    key = {"Idempotency-Key": "same-key"}
    assert admin.post("/v1/transfers", json=_transfer(src, dst), headers=key).status_code == 201
    before = _snapshot(admin, src, dst)
    clash = admin.post("/v1/transfers", json=_transfer(src, dst, amount="11.00"), headers=key)
    assert clash.status_code == 409
    assert clash.json()["code"] == "idempotency_conflict"
    assert _snapshot(admin, src, dst) == before


def test_other_customers_account_is_not_found_and_untouched(
    api_app: Any, api_platform: Any, admin: Api
) -> None:
    ada_id = admin.customer("Ada")
    ada = admin.account(ada_id)
    bob = admin.account(admin.customer("Bob"))
    admin.deposit(bob, "100.00")
    before = _snapshot(admin, ada, bob)
    as_ada = customer_api(api_app, api_platform, ada_id)
    steal = as_ada.post(
        "/v1/transfers", json=_transfer(bob, ada), headers={"Idempotency-Key": "steal-1"}
    )
    assert steal.status_code == 404
    assert steal.json()["field"] in ("account_id", "from_account_id")
    assert as_ada.get(f"/v1/accounts/{bob}/transactions").status_code == 404
    assert as_ada.post(f"/v1/accounts/{bob}/freeze", json={"reason": "x"}).status_code in (403, 404)
    assert _snapshot(admin, ada, bob) == before


def test_oversized_body_is_refused_before_parsing(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    small = settings.with_changes(api=ApiSettings(max_upload_bytes=4096))
    platform = make_platform(small, sqlite_engine, clock)
    key = issue_key(platform, [Role.ADMIN])
    api = Api(TestClient(create_app(platform=platform)), {"Authorization": f"Bearer {key}"})
    src = api.account(api.customer("Ada"))
    dst = api.account(api.customer("Bob"))
    api.deposit(src, "100.00")
    before = _snapshot(api, src, dst)
    payload = json.dumps(_transfer(src, dst, description="x" * 10_000)).encode()
    response = api.post(
        "/v1/transfers",
        content=payload,
        headers={"Content-Type": "application/json", "Idempotency-Key": "big"},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert _snapshot(api, src, dst) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "alien", "display_name": "X"}, "kind"),
        ({"kind": "personal", "display_name": ""}, "display_name"),
        ({"kind": "personal", "display_name": "x" * 201}, "display_name"),
    ],
)
def test_bad_customer_input(admin: Api, body: dict[str, Any], field: str) -> None:
    response = admin.post("/v1/customers", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert admin.get("/v1/customers").json()["items"] == []


def test_bad_input_on_postgresql_too(
    settings: Settings, pg_engine: Engine, clock: ManualClock
) -> None:
    platform = make_platform(settings, pg_engine, clock)
    # Banking's own refusals are under test here; the risk engine would step in first on the
    # over-balance transfer (tests/api/test_posting_guard.py covers that path).
    platform.use_posting_guard(ApproveAll())
    key = issue_key(platform, [Role.ADMIN])
    api = Api(TestClient(create_app(platform=platform)), {"Authorization": f"Bearer {key}"})
    src = api.account(api.customer("Ada"))
    dst = api.account(api.customer("Bob"))
    api.deposit(src, "100.00")
    before = _snapshot(api, src, dst)
    for body, status in [
        (_transfer(src, dst, amount="1.001"), 422),
        (_transfer(src, dst, currency="USD"), 422),
        (_transfer(src, UNKNOWN_ID), 404),
        (_transfer(src, dst, amount="500.00"), 422),
    ]:
        response = api.post("/v1/transfers", json=body, headers={"Idempotency-Key": str(body)})
        assert response.status_code == status, response.text
    assert _snapshot(api, src, dst) == before
