"""``/v1/acquisition`` end to end on the real app: the breakfast campaign through HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from tests.acquisition.conftest import new_customer, read_news
from tests.api.conftest import Api, issue_key

from finbridge.acquisition import FINANCE_BREAKFAST
from finbridge.core import Role
from finbridge.platform import Platform
from finbridge.site import create_app


@pytest.fixture
def admin(sqlite_platform: Platform) -> Api:
    key = issue_key(sqlite_platform, [Role.ADMIN], "admin")
    return Api(TestClient(create_app(platform=sqlite_platform)), {"Authorization": f"Bearer {key}"})


def test_breakfast_campaign_over_http(admin: Api, sqlite_platform: Platform) -> None:
    p = sqlite_platform
    reader = new_customer(p, "reader", deposit="88.00")
    for at in (
        datetime(2020, 11, 30, 23, 40, tzinfo=UTC),
        datetime(2020, 12, 1, 23, 40, tzinfo=UTC),
    ):
        read_news(p, reader, at)  # 07:40 in Shanghai on two mornings
    p.clock.set(datetime(2020, 12, 2, 12, 0, tzinfo=UTC))  # type: ignore[attr-defined]

    assert admin.post("/v1/acquisition/profiles/refresh", json={}).json() == {"profiles": 1}
    profile = admin.get(f"/v1/acquisition/profiles/{reader}").json()
    assert profile["fields"]["best_hour"] == 7.0 and profile["stored"]
    offers = admin.get(f"/v1/acquisition/offers/{reader}").json()
    assert offers[0]["risk_level"] == 1 and offers[0]["model_version"] is None  # none stored
    assert admin.get("/v1/acquisition/models").json() == []

    r = admin.post("/v1/acquisition/creatives", json={"name": "fb", "templates": FINANCE_BREAKFAST})
    assert r.status_code == 201, r.text
    r = admin.post(
        "/v1/acquisition/creatives/fb/preview", json={"customer_id": reader, "locale": "en"}
    )
    assert r.status_code == 200 and "88.00 CNY" in r.json()["body"]
    push = r.json()["push"]
    assert push["title"] == r.json()["title"] and len(push["body"]) <= 120
    assert push["deep_link"].startswith("/app/acquisition?delivery=")
    zone_url = f"/v1/acquisition/customers/{reader}/timezone"
    assert admin.get(zone_url).json()["timezone"] == "Asia/Shanghai"
    r = admin.put(zone_url, json={"timezone": "Mars/Base"})
    assert r.status_code == 422 and "timezone" in r.text
    assert admin.put(zone_url, json={"timezone": "Asia/Shanghai"}).json() == {
        "customer_id": reader, "timezone": "Asia/Shanghai"
    }  # fmt: skip
    size = admin.post("/v1/acquisition/audience-size", json={"audience": "news_reads > 1"}).json()
    assert size == {"profiles": 1, "consenting": 1, "matching": 1}

    body = {
        "name": "fb",
        "audience": "news_reads > 1",
        "creative": "fb",
        "holdout_share": 0.01,
        "schedule": {"kind": "send_time", "lead_minutes": 10},
    }
    r = admin.post("/v1/acquisition/campaigns", json=body)
    assert r.status_code == 201, r.text
    camp = r.json()["id"]
    plan = admin.post(
        f"/v1/acquisition/campaigns/{camp}/schedule", json={"day": "2020-12-03"}
    ).json()
    assert plan["scheduled"] + plan["holdout"] == 1
    p.clock.set(datetime(2020, 12, 2, 23, 35, tzinfo=UTC))  # type: ignore[attr-defined]
    sent = admin.post("/v1/acquisition/deliveries/run").json()
    assert sent["delivered"] == plan["scheduled"]
    results = admin.get(f"/v1/acquisition/campaigns/{camp}/results").json()
    assert results["delivered"] == plan["scheduled"]
    assert results["lift"]["confidence"] == 0.95
    if plan["scheduled"]:
        inbox = admin.get(f"/v1/acquisition/inbox/{reader}").json()
        assert inbox[0]["title"] == "财经早餐 2020-12-03"
        assert inbox[0]["push"]["deep_link"] == f"/app/acquisition?delivery={inbox[0]['id']}"


def test_bad_input_is_a_problem_document_naming_the_field(
    admin: Api, sqlite_platform: Platform
) -> None:
    admin.post("/v1/acquisition/creatives", json={"name": "fb", "templates": FINANCE_BREAKFAST})
    body = {"name": "x", "audience": "income > 3", "creative": "fb", "holdout_share": 0.1,
            "schedule": {"kind": "fixed", "at": "09:00"}}  # fmt: skip
    r = admin.post("/v1/acquisition/campaigns", json=body)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "income" in r.text and "audience" in r.text
    r = admin.post(
        "/v1/acquisition/campaigns", json={**body, "audience": "news_reads > 0", "holdout_share": 0}
    )
    assert r.status_code == 422 and "holdout" in r.text
    r = admin.post(
        "/v1/acquisition/creatives",
        json={"name": "y", "templates": {"en": {"title": "${nope}", "body": "b"}}},
    )
    assert r.status_code == 422 and "nope" in r.text


def test_scopes_are_enforced(sqlite_platform: Platform) -> None:
    app = create_app(platform=sqlite_platform)
    teller = Api(
        TestClient(app), {"Authorization": f"Bearer {issue_key(sqlite_platform, [Role.TELLER])}"}
    )
    assert teller.get("/v1/acquisition/campaigns").status_code == 403
    assert teller.get("/v1/acquisition/models").status_code == 403
    assert teller.post("/v1/acquisition/profiles/refresh", json={}).status_code == 403
    marketer = Api(
        TestClient(app), {"Authorization": f"Bearer {issue_key(sqlite_platform, [Role.MARKETER])}"}
    )
    assert marketer.get("/v1/acquisition/campaigns").status_code == 200
    anonymous = TestClient(app)
    assert anonymous.get("/v1/acquisition/campaigns").status_code == 401
