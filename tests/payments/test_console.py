"""The console's payments page: FX positions and rates chart, merchants (onboarding through
HTMX), payment search."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.api.conftest import issue_key
from tests.web.conftest import log_in

from finbridge.banking import ApproveAll
from finbridge.core import ManualClock, Money, Principal, Role, Settings
from finbridge.payments import Beneficiary
from finbridge.platform import Platform
from finbridge.site import create_app

HX = {"HX-Request": "true", "Origin": "http://testserver"}


def test_console_shows_positions_rates_merchants_and_payments(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    platform.use_posting_guard(ApproveAll())
    system = Principal.system("t")
    bank = platform.banking
    shop = bank.create_customer(system, kind="corporate", display_name="Dumpling Shop").id
    settle = bank.open_account(system, shop, kind="current", currency_code="CNY").id
    client = TestClient(create_app(platform=platform))
    assert client.get("/console/payments", follow_redirects=False).status_code in (302, 303, 307)
    log_in(client, issue_key(platform, [Role.ADMIN]))
    page = client.get("/console/payments")
    assert page.status_code == 200, page.text
    assert "FX positions" in page.text and "data-echarts" in page.text
    assert "No merchants yet." in page.text and "No payments match." in page.text
    form = {"name": "Dumpling Shop", "mcc": "5812", "settlement_account_id": settle,
            "fee_rate": "0.006"}  # fmt: skip
    assert client.post("/console/payments/merchants", data=form).status_code in (400, 403)
    bad = client.post("/console/payments/merchants", data={**form, "mcc": "58x2"}, headers=HX)
    assert bad.status_code == 200 and "mcc" in bad.text and "4 digits" in bad.text
    done = client.post("/console/payments/merchants", data=form, headers=HX)
    assert done.status_code == 200 and "Dumpling Shop" in done.text
    merchant = platform.payments.merchants.list(system)[0]
    payer = bank.create_customer(system, kind="personal", display_name="Ada").id
    wallet = bank.open_account(system, payer, kind="current", currency_code="CNY").id
    bank.deposit(system, wallet, Money.of("50", "CNY"), idempotency_key="f")
    code = platform.payments.merchants.create_code(
        system, merchant.id, amount=Money.of("12.00", "CNY")
    )
    platform.payments.payments.pay(Principal.customer(payer), code.payload,
                                   from_account_id=wallet, idempotency_key="k")  # fmt: skip
    found = client.get(f"/console/payments?merchant_id={merchant.id}&kind=merchant")
    assert "Dumpling Shop" in found.text and "12.00" in found.text
    assert "EUR/USD" in client.get("/console/payments?pair=EUR/USD&days=30").text
    assert 'href="/console/payments"' in page.text  # in the navigation
    eur = bank.open_account(system, payer, kind="current", currency_code="EUR").id
    bank.deposit(system, eur, Money.of("50", "EUR"), idempotency_key="e")
    t = platform.payments.crossborder.send(
        Principal.customer(payer), from_account_id=eur, amount=Money.of("5", "EUR"),
        beneficiary=Beneficiary(name="Viktor Petrakis", country="DE", bic="DEUTDEFF",
                                iban="DE89370400440532013000"),
        idempotency_key="x",
    )  # fmt: skip
    queue = client.get("/console/payments")
    assert "Viktor Petrakis" in queue.text and "screening" in queue.text
    detail = client.get(f"/console/payments/crossborder/{t.id}")
    assert "DEMO-0001" in detail.text and "Not sent yet." in detail.text
    decided = client.post(f"/console/payments/crossborder/{t.id}/screening",
                          data={"decision": "release", "note": "same name, other person"},
                          headers=HX)  # fmt: skip
    assert decided.status_code == 200 and "ready" in decided.text
    platform.payments.crossborder.export_pacs008(system)
    sent = client.get(f"/console/payments/crossborder/{t.id}")
    assert "FIToFICstmrCdtTrf" in sent.text
