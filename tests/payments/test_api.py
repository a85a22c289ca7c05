"""/v1/payments over HTTP: an operator onboards a merchant, a customer scans and pays, the
merchant refunds; FX quote and execution; errors are problem+json naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.conftest import Api, customer_api, issue_key
from tests.settings_support import test_settings as make_settings

from finbridge.banking import ApproveAll
from finbridge.core import ManualClock, Role
from finbridge.platform import Platform
from finbridge.site import create_app


@pytest.fixture
def platform(sqlite_engine: Engine, clock: ManualClock, tmp_path: Path) -> Platform:
    p = Platform(make_settings(tmp_path / "data"), sqlite_engine, clock)
    p.use_posting_guard(ApproveAll())  # the risk engine has its own tests; this is the wiring
    return p


@pytest.fixture
def app(platform: Platform) -> FastAPI:
    return create_app(platform=platform)


@pytest.fixture
def admin(app: FastAPI, platform: Platform) -> Api:
    key = issue_key(platform, [Role.ADMIN], "admin")
    return Api(TestClient(app), {"Authorization": f"Bearer {key}"})


def test_scan_pay_refund_over_http(app: FastAPI, platform: Platform, admin: Api) -> None:
    shop = admin.customer("Noodle Bar")
    settle = admin.account(shop)
    r = admin.post(
        "/v1/payments/merchants",
        json={
            "name": "Noodle Bar",
            "mcc": "5814",
            "settlement_account_id": settle,
            "fee_rate": "0.01",
        },
    )
    assert r.status_code == 201, r.text
    merchant = r.json()["id"]
    payer = admin.customer("Ada")
    wallet = admin.account(payer)
    admin.deposit(wallet, "100.00")
    code = admin.post(f"/v1/payments/merchants/{merchant}/codes", json={"amount": "25.50"}).json()
    assert code["kind"] == "dynamic" and code["payload"].startswith("FBPAY1.")
    me = customer_api(app, platform, payer)
    preview = me.post("/v1/payments/codes/preview", json={"code": code["payload"]})
    assert preview.json()["merchant_name"] == "Noodle Bar"
    image = me.post("/v1/payments/qr", json={"code": code["payload"]})
    assert image.headers["content-type"] == "image/png"
    body = {"code": code["payload"], "from_account_id": wallet}
    assert me.post("/v1/payments/pay", json=body).status_code == 422  # no Idempotency-Key
    paid = me.post("/v1/payments/pay", json=body, headers={"Idempotency-Key": "k1"})
    assert paid.status_code == 201, paid.text
    assert paid.json()["fee"] == {"amount": "0.26", "currency": "CNY"}
    assert admin.balance(settle) == "25.24"
    assert me.get(f"/v1/payments/{paid.json()['id']}").status_code == 200
    over = admin.post(f"/v1/payments/{paid.json()['id']}/refunds", json={"amount": "30"},
                      headers={"Idempotency-Key": "r0"})  # fmt: skip
    assert over.status_code == 422 and over.json()["field"] == "amount"
    assert over.headers["content-type"].startswith("application/problem+json")
    back = admin.post(f"/v1/payments/{paid.json()['id']}/refunds", json={},
                      headers={"Idempotency-Key": "r1"})  # fmt: skip
    assert back.status_code == 201, back.text
    assert admin.balance(wallet) == "100.00"
    other = customer_api(app, platform, admin.customer("Eve"))
    assert other.get(f"/v1/payments/{paid.json()['id']}").status_code == 404
    assert TestClient(app).get("/v1/payments").status_code == 401


def test_fx_quote_and_execute_over_http(app: FastAPI, platform: Platform, admin: Api) -> None:
    cid = admin.customer("Ada")
    cny = admin.account(cid, "CNY")
    usd = admin.account(cid, "USD")
    admin.deposit(cny, "1000.00")
    me = customer_api(app, platform, cid)
    q = me.post(
        "/v1/payments/fx/quotes",
        json={"sell_currency": "CNY", "buy_currency": "USD", "sell_amount": "700.00"},
    )
    assert q.status_code == 201, q.text
    quote = q.json()
    assert quote["fee"] == {"amount": "0.70", "currency": "CNY"}
    done = me.post(f"/v1/payments/fx/quotes/{quote['id']}/execute",
                   json={"from_account_id": cny, "to_account_id": usd})  # fmt: skip
    assert done.status_code == 200, done.text
    assert admin.balance(usd) == quote["buy"]["amount"]
    again = me.post(f"/v1/payments/fx/quotes/{quote['id']}/execute",
                    json={"from_account_id": cny, "to_account_id": usd})  # fmt: skip
    assert again.status_code == 409 and again.json()["field"] == "quote_id"
    positions = {p["currency"]: p for p in admin.get("/v1/payments/fx/positions").json()}
    assert positions["USD"]["position"]["amount"] == "-" + quote["buy"]["amount"]
    assert me.get("/v1/payments/fx/positions").status_code == 404  # operators only
    rates = admin.get("/v1/payments/fx/rates?base=USD&quote=CNY&days=30").json()
    assert rates["rates"] and all("." in r["rate"] for r in rates["rates"])
    bad = me.post(
        "/v1/payments/fx/quotes",
        json={"sell_currency": "CNY", "buy_currency": "USD", "sell_amount": "1.001"},
    )
    assert bad.status_code == 422 and bad.json()["field"] == "sell_amount"
    number = me.post(
        "/v1/payments/fx/quotes",
        json={"sell_currency": "CNY", "buy_currency": "USD", "sell_amount": 5},
    )
    assert number.status_code == 422


def test_crossborder_over_http(app: FastAPI, platform: Platform, admin: Api) -> None:
    cid = admin.customer("Ada Wang")
    eur = admin.account(cid, "EUR")
    admin.deposit(eur, "500.00", "EUR")
    me = customer_api(app, platform, cid)
    body = {
        "from_account_id": eur, "amount": "120.00", "currency": "EUR", "purpose": "GDDS",
        "beneficiary": {"name": "Hans Muller", "country": "DE", "bic": "DEUTDEFF",
                        "iban": "DE89370400440532013000", "address_lines": ["Berlin"]},
    }  # fmt: skip
    sent = me.post("/v1/payments/crossborder", json=body, headers={"Idempotency-Key": "x"})
    assert sent.status_code == 201, sent.text
    bad = {**body, "beneficiary": {**body["beneficiary"], "iban": "DE00370400440532013000"}}
    refused = me.post("/v1/payments/crossborder", json=bad, headers={"Idempotency-Key": "y"})
    assert refused.status_code == 422 and refused.json()["field"] == "beneficiary.iban"
    assert me.post("/v1/payments/crossborder/export").status_code == 404  # operators only
    [message] = admin.post("/v1/payments/crossborder/export").json()
    assert "<IBAN>DE89370400440532013000</IBAN>" in message["xml"]
    e2e = sent.json()["end_to_end_id"]
    status_xml = f"""<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.12">
<FIToFIPmtStsRpt><GrpHdr><MsgId>S</MsgId><CreDtTm>2026-11-02T10:00:00</CreDtTm></GrpHdr>
<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>ACSC</TxSts></TxInfAndSts>
</FIToFIPmtStsRpt></Document>"""
    report = admin.post("/v1/payments/crossborder/inbox", content=status_xml,
                        headers={"Content-Type": "application/xml"})  # fmt: skip
    assert report.status_code == 200 and report.json()["settled"] == [e2e]
    view = admin.get(f"/v1/payments/crossborder/{sent.json()['id']}/message")
    assert view.headers["content-type"].startswith("application/xml") and e2e in view.text
    assert me.get(f"/v1/payments/crossborder/{sent.json()['id']}").json()["status"] == "settled"
    assert admin.balance(eur) == "380.00"


def test_sending_abroad_through_a_quote_over_http(
    app: FastAPI, platform: Platform, admin: Api
) -> None:
    cid = admin.customer("Ada Wang")
    cny = admin.account(cid, "CNY")
    eur = admin.account(cid, "EUR")
    admin.deposit(cny, "5000.00")
    me = customer_api(app, platform, cid)
    q = me.post(
        "/v1/payments/fx/quotes",
        json={"sell_currency": "CNY", "buy_currency": "EUR", "buy_amount": "100.00"},
    )
    assert q.status_code == 201, q.text
    body = {
        "from_account_id": cny, "amount": "100.00", "currency": "EUR", "quote_id": q.json()["id"],
        "beneficiary": {"name": "Hans Muller", "country": "DE", "bic": "DEUTDEFF",
                        "iban": "DE89370400440532013000"},
    }  # fmt: skip
    wrong = me.post("/v1/payments/crossborder", json={**body, "amount": "99.00"},
                    headers={"Idempotency-Key": "w"})  # fmt: skip
    assert wrong.status_code == 422 and wrong.json()["field"] == "amount"
    sent = me.post("/v1/payments/crossborder", json=body, headers={"Idempotency-Key": "q"})
    assert sent.status_code == 201, sent.text
    assert (sent.json()["quote_id"], sent.json()["account_id"]) == (q.json()["id"], eur)
    assert admin.balance(eur) == "100.00"  # converted, then held for sending


def test_pay_from_a_credit_line_over_http(app: FastAPI, platform: Platform, admin: Api) -> None:
    """One call pays from the line (lending books the purchase); the refund goes back on it."""
    from tests.lending.conftest import Checks, FixedScorer, Risk

    from finbridge.core import Principal
    from finbridge.lending import LendingService

    system = Principal.system("test")
    platform._faces["lending"] = LendingService(
        platform.engine, platform.clock, platform.banking, checks=Checks(),
        scorer=FixedScorer(), risk=Risk(),
    )  # fmt: skip
    platform.lending.install_catalogue(system)
    shop = admin.customer("Noodle Bar")
    settle = admin.account(shop)
    merchant = admin.post("/v1/payments/merchants", json={
        "name": "Noodle Bar", "mcc": "5814", "settlement_account_id": settle, "fee_rate": "0.01",
    }).json()["id"]  # fmt: skip
    payer = admin.customer("Ada")
    line = platform.lending.apply(
        system, payer, product_id="everyday@1", deposit_account_id=admin.account(payer),
        income_band="medium", applicant={"LIMIT_BAL": 50000}, idempotency_key="app",
    )  # fmt: skip
    assert line.line_id is not None
    account = platform.lending.line(system, line.line_id).account_id
    code = admin.post(f"/v1/payments/merchants/{merchant}/codes", json={"amount": "40.00"}).json()
    me = customer_api(app, platform, payer)
    paid = me.post("/v1/payments/pay", json={"code": code["payload"], "from_account_id": account},
                   headers={"Idempotency-Key": "k1"})  # fmt: skip
    assert paid.status_code == 201, paid.text
    assert admin.balance(settle) == "39.60"
    assert platform.lending.line(system, line.line_id).owed.amount == 40
    back = admin.post(f"/v1/payments/{paid.json()['id']}/refunds", json={"amount": "15.00"},
                      headers={"Idempotency-Key": "r1"})  # fmt: skip
    assert back.status_code == 201, back.text
    assert platform.lending.line(system, line.line_id).owed.amount == 25
