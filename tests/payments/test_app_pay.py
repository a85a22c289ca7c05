"""The customer app's Pay screen (issue 15): a merchant's code, who is paid and how much, then
one call from a deposit account or the credit line (lending books the line's purchase); a
double submit pays once; the guard's step-up is answered with a TOTP code."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.app.conftest import SYSTEM, ZHANG, csrf_of, make_customer, scripted_platform, sign_in
from tests.lending.conftest import Checks, FixedScorer, Risk

from finbridge.core import ManualClock, Money, Principal, Role, Settings
from finbridge.lending import LendingService
from finbridge.site import create_app

ADMIN = Principal.operator("admin-1", [Role.ADMIN])


def _field(html: str, name: str) -> str:
    return html.split(f'name="{name}" value="')[1].split('"')[0]


def test_pay_a_merchant_from_the_credit_line_in_the_app(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = scripted_platform(settings, sqlite_engine, clock)  # 500+ asks step-up
    platform._faces["lending"] = LendingService(
        sqlite_engine, clock, platform.banking, checks=Checks(), scorer=FixedScorer(),
        risk=Risk(),
    )  # fmt: skip
    platform.lending.install_catalogue(SYSTEM)
    client = TestClient(create_app(platform=platform))
    zhang = make_customer(platform, clock, ZHANG)
    app = platform.lending.apply(
        SYSTEM, zhang.id, product_id="everyday@1", deposit_account_id=zhang.current,
        income_band="medium", applicant={"LIMIT_BAL": 50000}, idempotency_key="app",
    )  # fmt: skip
    assert app.line_id is not None
    line = platform.lending.line(SYSTEM, app.line_id)
    bank, pay = platform.banking, platform.payments
    owner = bank.create_customer(SYSTEM, kind="corporate", display_name="Tea House")
    shop_acc = bank.open_account(SYSTEM, owner.id, kind="current", currency_code="CNY").id
    shop = pay.merchants.onboard(ADMIN, name="Tea House", mcc="5812",
                                 settlement_account_id=shop_acc, fee_rate="0.01")  # fmt: skip
    sign_in(client, clock, zhang)

    page = client.get("/app/pay")
    assert page.status_code == 200 and 'href="/app/pay"' in page.text  # in the tab bar
    bad = client.post("/app/pay/preview", data={"code": "not-a-code",
                                                 "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert bad.status_code in (404, 422) and 'aria-invalid="true"' in bad.text
    code = pay.merchants.create_code(ADMIN, shop.id, amount=Money.of("120.00", "CNY")).payload
    seen = client.post("/app/pay/preview", data={"code": code, "csrf_token": csrf_of(page.text)})
    assert seen.status_code == 200 and "Tea House" in seen.text and "信用额度" in seen.text
    form = {"code": code, "key": _field(seen.text, "key"), "source": line.account_id,
            "csrf_token": csrf_of(seen.text)}  # fmt: skip
    done = client.post("/app/pay", data=form)
    assert done.status_code == 200 and "付款成功" in done.text and "账单" in done.text, done.text
    again = client.post("/app/pay", data=form)  # a double submit pays once
    assert again.status_code == 200
    assert len(pay.payments.search(SYSTEM, customer_id=zhang.id)) == 1
    assert platform.lending.line(SYSTEM, line.id).owed == Money.of("120.00", "CNY")
    assert bank.balance(SYSTEM, shop_acc).balance == Money.of("118.80", "CNY")
    assert bank.balance(SYSTEM, zhang.current).balance == Money.of("1000", "CNY")

    # 600.00 from the line: the guard asks for the second factor first.
    clock.advance(timedelta(minutes=6))
    big = pay.merchants.create_code(ADMIN, shop.id, amount=Money.of("600.00", "CNY")).payload
    seen = client.post("/app/pay/preview", data={"code": big, "csrf_token": csrf_of(done.text)})
    form = {"code": big, "key": _field(seen.text, "key"), "source": line.account_id,
            "csrf_token": csrf_of(seen.text)}  # fmt: skip
    asked = client.post("/app/pay", data=form)
    assert asked.status_code == 403 and "动态码" in asked.text
    assert platform.lending.line(SYSTEM, line.id).owed == Money.of("120.00", "CNY")
    ok = client.post("/app/pay/confirm", data={**form, "csrf_token": csrf_of(asked.text),
                                                "totp": zhang.totp.at(clock.now())})  # fmt: skip
    assert ok.status_code == 200 and "付款成功" in ok.text, ok.text
    assert platform.lending.line(SYSTEM, line.id).owed == Money.of("720.00", "CNY")
    platform.close()
