"""The customer app: a purchase into instalments, the schedule and fee shown before the customer
confirms; another customer's purchase cannot be quoted."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from tests.app.conftest import (  # noqa: F401 - fixtures used by name
    Customer,
    client,
    csrf_of,
    li,
    platform,
    signed_in,
    zhang,
)

from finbridge.banking import BankingService
from finbridge.core import ManualClock, Principal
from finbridge.core.money import Money
from finbridge.lending import LendingService
from finbridge.platform import Platform

OPS = Principal.system("test")


def test_a_customer_converts_a_purchase_after_seeing_the_schedule(
    platform: Platform,  # noqa: F811 - the fixture imported above
    signed_in: TestClient,  # noqa: F811
    zhang: Customer,  # noqa: F811
    li: Customer,  # noqa: F811
) -> None:
    lending = platform.lending
    lending.install_catalogue(OPS)
    # The purchases are seeded as the merchant side would post them (risk is not under test).
    merchant = LendingService(
        platform.engine, platform.clock, BankingService(platform.engine, platform.clock)
    )
    line_id = lending.grant_line(
        OPS, zhang.id, product_id="everyday@1", limit=Money.of("3000", "CNY"),
        deposit_account_id=zhang.current, reason="test", idempotency_key="z",
    ).line_id  # fmt: skip
    theirs = lending.grant_line(
        OPS, li.id, product_id="everyday@1", limit=Money.of("3000", "CNY"),
        deposit_account_id=li.current, reason="test", idempotency_key="l",
    ).line_id  # fmt: skip
    assert line_id and theirs
    ids = []
    for line, key in ((line_id, "p1"), (theirs, "p2")):
        p = merchant.authorise_purchase(
            OPS, line, Money.of("1200", "CNY"), merchant="Tmall", idempotency_key=key
        )
        merchant.capture_purchase(OPS, p.id, idempotency_key=key)
        ids.append(p.id)
    mine, other = ids

    page = signed_in.get(f"/app/lending/{line_id}")
    assert "分期付款" in page.text and f"purchase_id={mine}" in page.text
    quote = signed_in.get(f"/app/lending/{line_id}/instalments?purchase_id={mine}&periods=12")
    assert quote.status_code == 200
    assert "¥86.40" in quote.text and "¥107.20" in quote.text  # total fee, first period
    assert lending.instalments.plans(OPS, line_id) == []  # a quote converts nothing
    r = signed_in.post(
        f"/app/lending/{line_id}/instalments",
        data={"purchase_id": mine, "periods": "12", "csrf_token": csrf_of(quote.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    [plan] = lending.instalments.plans(OPS, line_id)
    assert plan.periods == 12 and plan.remaining == Money.of("1200", "CNY")
    assert "待入账" in signed_in.get(f"/app/lending/{line_id}").text
    q = signed_in.get(f"/app/lending/{line_id}/instalments?purchase_id={other}&periods=3")
    assert q.status_code == 404


def test_a_customer_settles_a_plan_early_once_after_the_code(
    platform: Platform,  # noqa: F811 - the fixture imported above
    signed_in: TestClient,  # noqa: F811
    zhang: Customer,  # noqa: F811
    clock: ManualClock,
) -> None:
    """600.00 in 3 periods settled from the line's page: the scripted risk engine asks for the
    code (500 or more), the same key goes again with it, and a double submit pays once."""
    lending = platform.lending
    lending.install_catalogue(OPS)
    merchant = LendingService(
        platform.engine, platform.clock, BankingService(platform.engine, platform.clock)
    )
    line_id = lending.grant_line(
        OPS, zhang.id, product_id="everyday@1", limit=Money.of("3000", "CNY"),
        deposit_account_id=zhang.current, reason="test", idempotency_key="z",
    ).line_id  # fmt: skip
    assert line_id
    p = merchant.authorise_purchase(
        OPS, line_id, Money.of("600", "CNY"), merchant="Tmall", idempotency_key="p"
    )
    merchant.capture_purchase(OPS, p.id, idempotency_key="p")
    plan = lending.instalments.convert(zhang.principal, "purchase", p.id, 3)
    before = platform.banking.balance(OPS, zhang.current).balance
    clock.advance(timedelta(minutes=6))  # the sign-in's code is no longer a fresh factor

    page = signed_in.get(f"/app/lending/{line_id}")
    key = re.search(r'name="key" value="([^"]+)"', page.text)
    assert key and f"/instalments/{plan.id}/settle" in page.text
    url = f"/app/lending/{line_id}/instalments/{plan.id}/settle"
    form = {"key": key.group(1), "csrf_token": csrf_of(page.text)}
    asked = signed_in.post(url, data=form, follow_redirects=False)
    assert asked.status_code == 403 and 'name="code"' in asked.text
    assert key.group(1) in asked.text  # the same key, to send again with the code
    wrong = signed_in.post(url, data=form | {"code": "000000"}, follow_redirects=False)
    assert wrong.status_code == 403 and lending.instalments.plan(OPS, plan.id).status == "active"
    clock.advance(timedelta(seconds=30))
    code = zhang.totp.at(clock.now())
    done = signed_in.post(url, data=form | {"code": code}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert lending.instalments.plan(OPS, plan.id).status == "settled"
    assert platform.banking.balance(OPS, zhang.current).balance == before - Money.of("600", "CNY")
    twice = signed_in.post(url, data=form, follow_redirects=False)
    assert twice.status_code == 303
    assert platform.banking.balance(OPS, zhang.current).balance == before - Money.of("600", "CNY")
    assert "提前结清" in signed_in.get(f"/app/lending/{line_id}").text
