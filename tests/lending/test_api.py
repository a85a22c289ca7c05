"""``/v1/lending`` over HTTP: authorisation by owner and role, bad input as problem+json."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi.testclient import TestClient
from tests.api.conftest import Api, customer_api, issue_key

from finbridge.core import Role
from finbridge.platform import Platform
from finbridge.site import create_app


def test_a_line_from_application_to_statement_over_http(platform: Platform) -> None:
    app = create_app(platform=platform)
    key = issue_key(platform, [Role.CREDIT_OFFICER, Role.TELLER])
    officer = Api(TestClient(app), {"Authorization": f"Bearer {key}"})
    cust = officer.customer("Lin")
    acc = officer.account(cust)
    officer.deposit(acc, "500.00")
    other = officer.customer("Wu")

    r = officer.post("/v1/lending/applications", json={
        "customer_id": cust, "product_id": "nope@1", "deposit_account_id": acc,
        "income_band": "medium"}, headers={"Idempotency-Key": "a0"})  # fmt: skip
    assert r.status_code == 404 and r.json()["field"] == "product_id"

    r = officer.post("/v1/lending/applications", json={
        "customer_id": cust, "product_id": "everyday@1", "deposit_account_id": acc,
        "income_band": "medium", "applicant": {"PAY_0": 0},
    }, headers={"Idempotency-Key": "a1"})  # fmt: skip
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["outcome"] == "approved" and body["limit"] == "20000.00"
    assert body["score_model"] == "test_scorecard@1"
    line_id = body["line_id"]

    mine = customer_api(app, platform, cust)
    theirs = customer_api(app, platform, other)
    assert [x["id"] for x in mine.get("/v1/lending/lines").json()] == [line_id]
    assert theirs.get(f"/v1/lending/lines/{line_id}").status_code == 404
    assert theirs.get("/v1/lending/lines").json() == []

    r = mine.post(f"/v1/lending/lines/{line_id}/purchases",
                  json={"amount": "25000.00", "merchant": "Tmall"},
                  headers={"Idempotency-Key": "p0"})  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "amount"
    r = mine.post(f"/v1/lending/lines/{line_id}/purchases",
                  json={"amount": "120.00", "merchant": "Tmall"},
                  headers={"Idempotency-Key": "p1"})  # fmt: skip
    assert r.status_code == 201, r.text
    purchase = r.json()["id"]
    # Customers do not capture their own purchases: the merchant side does.
    assert mine.post(f"/v1/lending/purchases/{purchase}/capture", json={},
                     headers={"Idempotency-Key": "c0"}).status_code == 404  # fmt: skip
    r = officer.post(f"/v1/lending/purchases/{purchase}/capture", json={"amount": "100.00"},
                     headers={"Idempotency-Key": "c1"})  # fmt: skip
    assert r.status_code == 200 and r.json()["captured"] == "100.00"
    r = officer.post(f"/v1/lending/purchases/{purchase}/refunds", json={"amount": "150.00"},
                     headers={"Idempotency-Key": "r1"})  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "amount"

    r = mine.post(f"/v1/lending/lines/{line_id}/repayments",
                  json={"amount": "10.00", "currency": "USD"},
                  headers={"Idempotency-Key": "y0"})  # fmt: skip
    assert r.status_code == 422 and r.json()["field"] == "currency"
    line = mine.get(f"/v1/lending/lines/{line_id}").json()
    assert (line["owed"], line["available"]) == ("100.00", "19900.00")

    assert mine.post("/v1/lending/cob/runs", json={}).status_code == 403
    platform.clock.set(datetime(2026, 2, 6, 2, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    r = officer.post("/v1/lending/cob/runs", json={"until": "2026-02-05"})
    assert r.status_code == 200, r.text
    assert r.json()["last_done"] == "2026-02-05"
    r = officer.post("/v1/lending/cob/runs", json={"until": "2026-02-01"})
    assert r.status_code == 422 and r.json()["field"] == "until"

    # A month later: the customers' console sessions have ended, they sign in again.
    mine = customer_api(app, platform, cust)
    theirs = customer_api(app, platform, other)
    [st] = mine.get(f"/v1/lending/lines/{line_id}/statements").json()
    assert (st["purchases"], st["closing"], st["due_date"]) == ("100.00", "100.00", "2026-02-25")
    assert theirs.get(f"/v1/lending/statements/{st['id']}").status_code == 404
    rec = officer.get(f"/v1/lending/statements/{st['id']}/reconciliation").json()
    assert rec["reconciled"] is True
    assert date.fromisoformat(mine.get("/v1/lending/lines").json()[0]["next_statement_date"]) \
        == date(2026, 3, 5)  # fmt: skip


def test_an_api_run_is_bounded_and_its_times_carry_an_offset(platform: Platform) -> None:
    """A request closes at most ``lending.cob_api_max_days``; a longer catch-up is a 422 on
    ``until`` naming the CLI, and nothing is closed. Times come back with their UTC offset."""
    officer = Api(
        TestClient(create_app(platform=platform)),
        {"Authorization": f"Bearer {issue_key(platform, [Role.CREDIT_OFFICER])}"},
    )
    r = officer.post("/v1/lending/cob/runs", json={"until": "2026-01-04"})
    assert r.status_code == 200 and r.json()["last_done"] == "2026-01-04", r.text
    day = r.json()["recent"][0]
    assert datetime.fromisoformat(day["started_at"]).utcoffset() is not None
    assert datetime.fromisoformat(day["finished_at"]).utcoffset() is not None
    platform.clock.set(datetime(2026, 6, 1, 2, 0, tzinfo=UTC))  # type: ignore[attr-defined]
    r = officer.post("/v1/lending/cob/runs", json={})
    assert r.status_code == 422 and r.json()["field"] == "until", r.text
    assert "finbridge cob run --until" in r.json()["detail"]
    assert officer.get("/v1/lending/cob").json()["last_done"] == "2026-01-04"
