"""``/v1/lending`` instalments and limit reviews over HTTP: the customer's own purchase is
quoted, then converted; another customer sees nothing; bad periods are a 422 on the field."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.api.conftest import Api, customer_api, issue_key

from finbridge.core import Role
from finbridge.platform import Platform
from finbridge.site import create_app


def test_instalments_and_limit_reviews_over_http(platform: Platform) -> None:
    app = create_app(platform=platform)
    key = issue_key(platform, [Role.CREDIT_OFFICER, Role.TELLER])
    officer = Api(TestClient(app), {"Authorization": f"Bearer {key}"})
    cust, other = officer.customer("Lin"), officer.customer("Wu")
    acc = officer.account(cust)
    officer.deposit(acc, "2000.00")
    r = officer.post("/v1/lending/applications", json={
        "customer_id": cust, "product_id": "everyday@1", "deposit_account_id": acc,
        "income_band": "medium", "applicant": {"PAY_0": 0},
    }, headers={"Idempotency-Key": "a1"})  # fmt: skip
    line_id = r.json()["line_id"]
    mine, theirs = customer_api(app, platform, cust), customer_api(app, platform, other)
    r = mine.post(f"/v1/lending/lines/{line_id}/purchases",
                  json={"amount": "1200.00", "merchant": "Tmall"},
                  headers={"Idempotency-Key": "p1"})  # fmt: skip
    purchase = r.json()["id"]
    officer.post(f"/v1/lending/purchases/{purchase}/capture", json={},
                 headers={"Idempotency-Key": "c1"})  # fmt: skip

    ask = {"source": "purchase", "source_id": purchase, "periods": 12}
    r = mine.post("/v1/lending/instalments", json={**ask, "periods": 4})
    assert r.status_code == 422 and "periods" in r.text
    assert theirs.post("/v1/lending/instalments/quotes", json=ask).status_code == 404
    quote = mine.post("/v1/lending/instalments/quotes", json=ask).json()
    assert quote["id"] is None and quote["total_fee"] == "86.40"
    assert quote["schedule"][0]["total"] == "107.20"
    assert mine.get(f"/v1/lending/lines/{line_id}/instalments").json() == []
    r = mine.post("/v1/lending/instalments", json=ask)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert plan["status"] == "active" and plan["remaining"] == "1200.00"
    assert theirs.get(f"/v1/lending/instalments/{plan['id']}").status_code == 404
    r = mine.post(f"/v1/lending/instalments/{plan['id']}/settlement")
    assert r.status_code == 422  # no Idempotency-Key
    r = mine.post(f"/v1/lending/instalments/{plan['id']}/settlement",
                  headers={"Idempotency-Key": "s1"})  # fmt: skip
    assert r.status_code == 200 and r.json()["status"] == "settled", r.text
    assert mine.get(f"/v1/lending/lines/{line_id}").json()["owed"] == "0.00"

    assert mine.post(f"/v1/lending/lines/{line_id}/limit-reviews").status_code == 404
    r = officer.post(f"/v1/lending/lines/{line_id}/limit-reviews")
    assert r.status_code == 201 and r.json()["outcome"] == "kept", r.text
    assert [x["id"] for x in mine.get(f"/v1/lending/lines/{line_id}/limit-reviews").json()] == [
        r.json()["id"]
    ]
