"""The demo seeds payments through the face, with the platform's real posting guard, once."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from finbridge.cli.demo_data import load_demo_data
from finbridge.cli.demo_payments import seed_payments
from finbridge.core import ManualClock, Principal, Settings
from finbridge.platform import Platform

ACTOR = Principal.system("test")


@pytest.mark.slow  # loads the demo slice and the risk model
def test_demo_seeds_every_payments_panel_once(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings, sqlite_engine, clock)
    load_demo_data(platform, limit=20)
    said: list[str] = []
    summary = seed_payments(platform, said.append)
    assert summary is not None and "3 merchants" in summary and "12 customers" in summary
    pay = platform.payments
    assert len(pay.merchants.list(ACTOR)) == 3
    assert pay.payments.search(ACTOR, kind="merchant")
    assert pay.payments.search(ACTOR, kind="p2p")
    positions = {p.currency: p.position for p in pay.fx.positions(ACTOR)}
    assert positions["CNY"].is_positive() and positions["USD"].is_negative()
    statuses = sorted(t.status for t in pay.crossborder.queue(ACTOR))
    assert statuses == ["screening", "settled"]
    assert seed_payments(platform, said.append) is None and len(said) == 1
    assert platform.banking.verify_ledger(ACTOR).ok
    platform.close()


@pytest.mark.slow  # loads the demo slice and the risk model
def test_demo_fills_the_app_customers_pay_pages_once(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    from finbridge.cli.demo_app import PAYEE, seed_app_customer
    from finbridge.cli.demo_payments import seed_app_payments

    platform = Platform(settings, sqlite_engine, clock)
    load_demo_data(platform, limit=20)
    seed_payments(platform)
    login = seed_app_customer(platform)
    assert login is not None
    me = Principal.customer(login.customer_id)
    said = seed_app_payments(platform, login.customer_id, PAYEE.phone)
    assert said is not None and "FBPAY1." in said, said
    pay = platform.payments.payments
    mine = pay.search(me)
    merchant = [p for p in mine if p.kind == "merchant"]
    assert len(merchant) == 3 and sum(p.purchase_id is not None for p in merchant) == 1
    assert sum(p.refunded.is_positive() for p in merchant) == 1
    assert [p.kind for p in mine].count("p2p") == 1
    assert [r.status for r in pay.requests_of(me)] == ["open"]
    # The printed code pays in the app: it is a live static code of a demo merchant.
    code = said.rsplit(": ", 1)[1]
    assert platform.payments.merchants.preview(me, code).amount is None
    assert seed_app_payments(platform, login.customer_id, PAYEE.phone) is None  # once
    assert platform.banking.verify_ledger(ACTOR).ok
    platform.close()
