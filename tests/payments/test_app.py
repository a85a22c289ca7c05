"""The customer app's Exchange page: wallets, a quote with rate, reference rate, fee and both
amounts before confirming, one conversion per quote, bad input naming the field."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.app.conftest import SYSTEM, ZHANG, ScriptedRisk, csrf_of, make_customer, sign_in

from finbridge.core import ManualClock, Money, Settings
from finbridge.identity import StepUpGuard
from finbridge.platform import Platform
from finbridge.site import create_app


def test_exchange_quote_then_convert_in_the_app(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    platform.use_posting_guard(StepUpGuard(platform.identity.step_up, inner=ScriptedRisk()))
    client = TestClient(create_app(platform=platform))
    zhang = make_customer(platform, clock, ZHANG)
    sign_in(client, clock, zhang)
    page = client.get("/app/fx")
    assert page.status_code == 200 and 'action="/app/fx/quote"' in page.text
    assert 'href="/app/fx"' in page.text  # in the tab bar
    bad = client.post("/app/fx/quote", data={"sell": "CNY", "buy": "USD", "amount": "1.001",
                                              "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert bad.status_code == 422 and 'aria-invalid="true"' in bad.text
    quoted = client.post("/app/fx/quote", data={"sell": "CNY", "buy": "USD", "amount": "100.00",
                                                 "csrf_token": csrf_of(page.text)})  # fmt: skip
    assert quoted.status_code == 200, quoted.text
    quote_id = quoted.text.split('name="quote_id" value="')[1].split('"')[0]
    q = platform.payments.fx.get_quote(SYSTEM, quote_id)
    assert q.sell == Money.of("100.00", "CNY") and q.fee == Money.of("0.10", "CNY")
    done = client.post("/app/fx/convert", data={"quote_id": quote_id,
                                                 "csrf_token": csrf_of(quoted.text)})  # fmt: skip
    assert done.status_code == 200, done.text
    assert platform.banking.balance(SYSTEM, zhang.usd).balance == q.buy
    again = client.post("/app/fx/convert", data={"quote_id": quote_id,
                                                  "csrf_token": csrf_of(quoted.text)})  # fmt: skip
    assert again.status_code == 409  # a used quote is refused, nothing moves twice
    assert platform.banking.balance(SYSTEM, zhang.usd).balance == q.buy
    platform.close()
