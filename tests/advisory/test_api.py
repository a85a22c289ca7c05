"""``/v1/advisory`` over HTTP: authentication, ownership, the above-level flow, plans."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.advisory.conftest import BALANCED
from tests.api.conftest import Api, customer_api, issue_key

from finbridge.advisory import ModelReport
from finbridge.api import create_app
from finbridge.banking import ApproveAll
from finbridge.core import ManualClock, Role, Settings
from finbridge.platform import Platform


@pytest.fixture
def platform(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock, small_models: ModelReport
) -> Platform:
    made = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    # The risk model is tested in tests/risk; orders here meet an approving guard (the service
    # test shows a declining guard stops an order before anything is written).
    made.use_posting_guard(ApproveAll())
    made.advisory.use_models(small_models)
    return made


@pytest.fixture
def app(platform: Platform) -> FastAPI:
    return create_app(platform=platform)


@pytest.fixture
def admin(app: FastAPI, platform: Platform) -> Api:
    key = issue_key(platform, [Role.ADMIN], "admin")
    return Api(TestClient(app), {"Authorization": f"Bearer {key}"})


def test_every_route_needs_a_credential(app: FastAPI) -> None:
    anonymous = TestClient(app)
    for url in ("/v1/advisory/products", "/v1/advisory/questionnaire", "/v1/advisory/portfolios"):
        assert anonymous.get(url).status_code == 401


def test_questionnaire_and_catalogue(admin: Api) -> None:
    q = admin.get("/v1/advisory/questionnaire").json()
    assert q["version"] == "2026-12-v1" and q["questions"][0]["text"]["zh-CN"]
    assert admin.get("/v1/advisory/questionnaire/versions").json() == ["2026-12-v1"]
    products = admin.get("/v1/advisory/products", params={"max_level": "R2"}).json()
    assert {p["risk_level"] for p in products} == {"R1", "R2"}
    assert admin.get("/v1/advisory/products", params={"max_level": "R9"}).status_code == 422
    assert admin.get("/v1/advisory/questionnaire", params={"version": "x"}).status_code == 404


def test_profile_suitability_and_plan_as_the_customer(
    app: FastAPI, platform: Platform, admin: Api
) -> None:
    customer = admin.customer("Ada")
    other = admin.customer("Bob")
    me = customer_api(app, platform, customer)
    bad = me.post(
        f"/v1/advisory/customers/{customer}/profile", json={"answers": {**BALANCED, "age": 5}}
    )
    assert bad.status_code == 422 and bad.json()["field"] == "answers.age"
    made = me.post(f"/v1/advisory/customers/{customer}/profile", json={"answers": BALANCED})
    assert made.status_code == 201, made.text
    assert made.json()["category"] == "C3"
    assert me.get(f"/v1/advisory/customers/{other}/profile").status_code == 404
    assert me.get(f"/v1/advisory/customers/{customer}/profile").json()["id"] == made.json()["id"]

    body = {"customer_id": customer, "product_code": "SPY"}
    first = me.post("/v1/advisory/suitability-checks", json=body)
    assert first.status_code == 200 and first.json()["outcome"] == "warning_required"
    code = first.json()["warning"]["code"]
    # confirmed with the warning's code, but this session has no fresh second factor
    stepped = me.post(
        "/v1/advisory/suitability-checks", json={**body, "warning_code": code, "confirmed": True}
    )
    assert stepped.status_code == 403 and stepped.json()["code"] == "step_up_required"
    evidence = me.get("/v1/advisory/suitability-checks").json()
    assert [e["outcome"] for e in evidence] == ["warning_required", "warning_required"]
    assert evidence[0]["confirmed"] is True and evidence[0]["second_factor"] is False
    foreign = me.post("/v1/advisory/suitability-checks", json={**body, "customer_id": other})
    assert foreign.status_code == 404

    plan = me.post(
        f"/v1/advisory/customers/{customer}/plans",
        json={"target": "50000", "target_date": "2040-01-01", "initial": "10000",
              "monthly": "100"},
    )  # fmt: skip
    assert plan.status_code == 200, plan.text
    result = plan.json()
    assert result["category"] == "C3" and result["paths"] == 5000
    assert len(result["p50"]) == len(result["months_shown"]) and 0 <= result["probability"] <= 1
    assert result["months_shown"][-1] == result["months"]
    past = me.post(
        f"/v1/advisory/customers/{customer}/plans",
        json={"target": "50000", "target_date": "2001-01-01", "initial": "1"},
    )
    assert past.status_code == 422 and past.json()["field"] == "target_date"
    number = me.post(
        f"/v1/advisory/customers/{customer}/plans",
        json={"target": 50000, "target_date": "2040-01-01"},
    )
    assert number.status_code == 422


def test_portfolios_and_report(admin: Api) -> None:
    models = admin.get("/v1/advisory/portfolios").json()
    assert [m["name"] for m in models["models"]] == ["C1", "C2", "C3", "C4", "C5"]
    assert models["risk_ordered"] is True
    assert {b["name"] for b in models["benchmarks"]} == {"equal weight", "60/40"}
    assert dt.date.fromisoformat(models["start"]).year == 2008
    for m in models["models"]:  # each refit held to the configured one-way turnover limit
        assert m["max_turnover"] == 0.5 and m["over_limit"] >= 0
        assert m["largest_rebalance"] <= 0.5 + 1e-6 or m["over_limit"] > 0
    assert all(b["max_turnover"] is None for b in models["benchmarks"])
    mine = admin.post(
        "/v1/advisory/portfolios/evaluate", json={"weights": {"SPY": 0.6, "AGG": 0.4}}
    )
    assert mine.status_code == 200 and mine.json()["out_of_sample"]["risk_level"].startswith("R")
    bad = admin.post("/v1/advisory/portfolios/evaluate", json={"weights": {"SPY": 0.6}})
    assert bad.status_code == 422 and bad.json()["field"] == "weights"
    page = admin.get("/v1/advisory/report")
    assert page.status_code == 200 and "<svg" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_operators_need_the_advisory_scope(app: FastAPI, platform: Platform, admin: Api) -> None:
    customer = admin.customer("Cy")
    key = issue_key(platform, [Role.QUANT_RESEARCHER], "q")
    quant = Api(TestClient(app), {"Authorization": f"Bearer {key}"})
    assert quant.get(f"/v1/advisory/customers/{customer}/profile").status_code == 403
    assert quant.get("/v1/advisory/suitability-checks").status_code == 403


def test_orders_holdings_and_rebalancing_over_http(
    app: FastAPI, platform: Platform, admin: Api, clock: ManualClock
) -> None:
    clock.set(dt.datetime(2017, 6, 1, 2, 0, tzinfo=dt.UTC))
    customer = admin.customer("Dee")
    account = admin.account(customer, currency="USD")
    admin.deposit(account, "5000", currency="USD")
    me = customer_api(app, platform, customer)
    me.post(f"/v1/advisory/customers/{customer}/profile", json={"answers": BALANCED})
    body = {"account_id": account, "product_code": "AGG", "amount": "1000", "currency": "USD"}
    url = f"/v1/advisory/customers/{customer}/subscriptions"
    assert me.post(url, json=body).status_code == 422  # no Idempotency-Key
    made = me.post(url, json=body, headers={"Idempotency-Key": "o1"})
    assert made.status_code == 201, made.text
    assert made.json()["status"] == "pending" and made.json()["fee"] == "1.00"
    assert admin.balance(account) == "4000.00"
    below = me.post(url, json={**body, "amount": "10"}, headers={"Idempotency-Key": "o2"})
    assert below.status_code == 422 and below.json()["field"] == "amount"
    above = me.post(url, json={**body, "product_code": "SSO"}, headers={"Idempotency-Key": "o3"})
    assert above.status_code == 422 and above.json()["code"] == "suitability_refused"
    assert me.post("/v1/advisory/settlements").status_code == 403
    clock.advance(dt.timedelta(days=1))
    settled = admin.post("/v1/advisory/settlements")
    me = customer_api(app, platform, customer)  # a day later: a fresh console session
    assert settled.status_code == 200 and settled.json()[0]["status"] == "settled"
    held = me.get(f"/v1/advisory/customers/{customer}/holdings").json()
    assert len(held) == 1, held
    [holding] = held
    assert holding["product_code"] == "AGG" and holding["cost"] == "1000.00"
    proposal = me.post(f"/v1/advisory/customers/{customer}/rebalancing", json={"new_cash": "0"})
    assert proposal.status_code == 200, proposal.text
    assert "AGG" in proposal.json()["out_of_band"] and proposal.json()["trades"]
    orders = me.get(f"/v1/advisory/customers/{customer}/orders").json()
    assert [o["product_code"] for o in orders] == ["AGG"]
    accepted = me.post(
        f"/v1/advisory/customers/{customer}/rebalancing/accept",
        json={"account_id": account, "new_cash": "500"}, headers={"Idempotency-Key": "rb1"},
    )  # fmt: skip
    assert accepted.status_code == 201, accepted.text
    assert {o["side"] for o in accepted.json()} == {"redeem", "subscribe"}
    choice_url = f"/v1/advisory/customers/{customer}/rebalancing/choice"
    assert me.get(choice_url).json() is None
    on = me.put(choice_url, json={"account_id": account, "automatic": True})
    assert on.status_code == 200 and on.json()["automatic"] is True, on.text
    assert me.get(choice_url).json()["account_id"] == account
    # Only the customer opts in; an admin reads the choice but cannot make it.
    refused = admin.put(choice_url, json={"account_id": account, "automatic": False})
    assert refused.status_code == 403
    assert admin.get(choice_url).json()["automatic"] is True
    bad = me.put(choice_url, json={"account_id": account, "automatic": "maybe"})
    assert bad.status_code == 422 and bad.json()["field"] == "automatic"
