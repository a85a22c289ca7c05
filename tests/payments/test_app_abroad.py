"""The customer app's Exchange step-up and sending abroad through a quote (issue 15): the
guard's step-up is answered with a TOTP code and the same quote goes through; the abroad
screens show beneficiary, rate, reference rate, fee, both amounts and expiry before the
customer confirms; bad input names its field and moves nothing. In zh-CN and English."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.app.conftest import SYSTEM, ZHANG, csrf_of, make_customer, scripted_platform, sign_in

from finbridge.app.i18n import LOCALE_COOKIE
from finbridge.core import ManualClock, Money, Settings
from finbridge.site import create_app

HANS = {"name": "Hans Muller", "iban": "DE89 3704 0044 0532 0130 00", "bic": "DEUTDEFF",
        "country": "DE"}  # fmt: skip


def _field(html: str, name: str) -> str:
    return html.split(f'name="{name}" value="')[1].split('"')[0]


def test_exchange_asks_step_up_then_converts_the_same_quote(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = scripted_platform(settings, sqlite_engine, clock)  # 500+ asks step-up
    client = TestClient(create_app(platform=platform))
    zhang = make_customer(platform, clock, ZHANG)
    sign_in(client, clock, zhang)
    clock.advance(timedelta(minutes=6))  # the sign-in's second factor is no longer fresh
    page = client.get("/app/fx")
    quoted = client.post("/app/fx/quote", data={"sell": "CNY", "buy": "USD", "amount": "600",
                                                 "csrf_token": csrf_of(page.text)})  # fmt: skip
    quote_id = _field(quoted.text, "quote_id")
    r = client.post("/app/fx/convert", data={"quote_id": quote_id,
                                              "csrf_token": csrf_of(quoted.text)})  # fmt: skip
    assert r.status_code == 403 and "动态码" in r.text and 'action="/app/fx/confirm"' in r.text
    assert platform.banking.balance(SYSTEM, zhang.current).balance == Money.of("1000", "CNY")
    wrong = client.post("/app/fx/confirm", data={"quote_id": quote_id, "code": "000000",
                                                  "csrf_token": csrf_of(r.text)})  # fmt: skip
    assert wrong.status_code == 401 and "动态码" in wrong.text
    ok = client.post("/app/fx/confirm", data={"quote_id": quote_id,
                                               "code": zhang.totp.at(clock.now()),
                                               "csrf_token": csrf_of(r.text)})  # fmt: skip
    assert ok.status_code == 200, ok.text
    q = platform.payments.fx.get_quote(SYSTEM, quote_id)
    assert q.status == "executed"
    assert platform.banking.balance(SYSTEM, zhang.usd).balance == q.buy
    assert platform.banking.balance(SYSTEM, zhang.current).balance == Money.of("400", "CNY")
    platform.close()


def test_send_abroad_through_a_quote_with_step_up_in_english(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = scripted_platform(settings, sqlite_engine, clock)
    client = TestClient(create_app(platform=platform))
    zhang = make_customer(platform, clock, ZHANG)
    eur = platform.banking.open_account(SYSTEM, zhang.id, kind="current", currency_code="EUR").id
    sign_in(client, clock, zhang)
    client.cookies.set(LOCALE_COOKIE, "en")
    clock.advance(timedelta(minutes=6))
    page = client.get("/app/abroad")
    assert page.status_code == 200 and "Send abroad" in page.text
    form = {**HANS, "sell": "CNY", "buy": "EUR", "amount": "70.00",
            "key": _field(page.text, "key"), "csrf_token": csrf_of(page.text)}  # fmt: skip

    bad = client.post("/app/abroad/quote", data={**form, "amount": "70.001"})
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text

    quoted = client.post("/app/abroad/quote", data=form)
    assert quoted.status_code == 200, quoted.text
    quote_id = _field(quoted.text, "quote_id")
    q = platform.payments.fx.get_quote(SYSTEM, quote_id)
    assert q.buy == Money.of("70.00", "EUR") and q.sell.code == "CNY"
    for shown in ("Hans Muller", "Fee", "Reference rate (ECB)", "Valid until", str(q.rate)):
        assert shown in quoted.text
    fields = {k: _field(quoted.text, k) for k in (*HANS, "sell", "buy", "amount", "key")}
    sending = {**fields, "quote_id": quote_id, "csrf_token": csrf_of(quoted.text)}

    # More than 500 CNY leaves: the guard asks for the second factor before anything moves.
    assert q.sell >= Money.of("500", "CNY")
    r = client.post("/app/abroad/send", data=sending)
    assert r.status_code == 403 and "authenticator code" in r.text
    assert platform.payments.crossborder.queue(SYSTEM) == []
    ok = client.post("/app/abroad/confirm", data={**sending, "csrf_token": csrf_of(r.text),
                                                   "code": zhang.totp.at(clock.now())})  # fmt: skip
    assert ok.status_code == 200 and "Transfer abroad on its way" in ok.text, ok.text
    [t] = platform.payments.crossborder.queue(SYSTEM)
    assert (t.quote_id, t.amount, t.status) == (quote_id, Money.of("70.00", "EUR"), "ready")
    assert (
        platform.banking.balance(SYSTEM, zhang.current).balance == Money.of("1000", "CNY") - q.sell
    )
    held = platform.banking.balance(SYSTEM, eur)
    assert (held.balance, held.available) == (q.buy, Money.zero("EUR"))  # held while in flight
    # The same request again (a double submit) sends nothing twice.
    again = client.post("/app/abroad/send", data={**sending, "csrf_token": csrf_of(ok.text)})
    assert again.status_code == 200 and len(platform.payments.crossborder.queue(SYSTEM)) == 1
    page = client.get("/app/abroad")
    assert "Hans Muller" in page.text and "ready" in page.text
    platform.close()


def test_a_bad_beneficiary_names_its_field_and_moves_nothing_in_chinese(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = scripted_platform(settings, sqlite_engine, clock)
    client = TestClient(create_app(platform=platform))
    zhang = make_customer(platform, clock, ZHANG)
    platform.banking.open_account(SYSTEM, zhang.id, kind="current", currency_code="EUR")
    sign_in(client, clock, zhang)
    page = client.get("/app/abroad")
    assert "境外汇款" in page.text
    form = {**HANS, "iban": "DE00 0000 0000 0000 0000 00", "sell": "CNY", "buy": "EUR",
            "amount": "10.00", "key": _field(page.text, "key"),
            "csrf_token": csrf_of(page.text)}  # fmt: skip
    quoted = client.post("/app/abroad/quote", data=form)
    fields = {k: _field(quoted.text, k) for k in (*HANS, "sell", "buy", "amount", "key")}
    r = client.post("/app/abroad/send", data={**fields, "quote_id": _field(quoted.text, "quote_id"),
                                               "csrf_token": csrf_of(quoted.text)})  # fmt: skip
    assert r.status_code == 422 and 'id="iban"' in r.text
    assert 'aria-invalid="true"' in r.text.split('id="iban"')[1].split(">")[0]
    assert platform.payments.crossborder.queue(SYSTEM) == []
    assert platform.banking.balance(SYSTEM, zhang.current).balance == Money.of("1000", "CNY")
    platform.close()
