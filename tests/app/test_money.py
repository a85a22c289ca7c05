"""Transfers (own accounts, other customers, step-up, decline, double submit, bad input,
expired session) and the account page (history, search, paging, monthly spending)."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from finbridge.core import ManualClock, Money, Settings
from finbridge.platform import Platform

from .conftest import SYSTEM, Customer, csrf_of, scripted_platform

_KEY = re.compile(r'name="key" value="([^"]+)"')


@pytest.fixture
def platform(settings: Settings, engine: Engine, clock: ManualClock) -> Platform:
    """Money moves on both backends: SQLite and PostgreSQL."""
    return scripted_platform(settings, engine, clock)


def _form(client: TestClient) -> tuple[str, str]:
    page = client.get("/app/transfers")
    assert page.status_code == 200
    key = _KEY.search(page.text)
    assert key
    return csrf_of(page.text), key.group(1)


def _balance(platform: Platform, account_id: str) -> str:
    return str(platform.banking.get_account(SYSTEM, account_id).balance.amount)


def test_transfer_between_own_accounts(
    signed_in: TestClient, platform: Platform, zhang: Customer
) -> None:
    csrf, key = _form(signed_in)
    data = {
        "csrf_token": csrf, "key": key, "from_account": zhang.current, "to_own": zhang.savings,
        "amount": "120.50", "description": "rainy day",
    }  # fmt: skip
    r = signed_in.post("/app/transfers", data=data)
    assert r.status_code == 200 and "转账成功" in r.text
    assert _balance(platform, zhang.current) == "879.50"
    assert _balance(platform, zhang.savings) == "120.50"
    # The same form sent again (double click, back + resubmit) posts nothing more.
    again = signed_in.post("/app/transfers", data=data)
    assert again.status_code == 200 and "只提交了一次" in again.text
    assert _balance(platform, zhang.current) == "879.50"


def test_transfer_to_another_customer_and_their_view(
    signed_in: TestClient, platform: Platform, zhang: Customer, li: Customer
) -> None:
    csrf, key = _form(signed_in)
    r = signed_in.post(
        "/app/transfers",
        data={"csrf_token": csrf, "key": key, "from_account": zhang.current,
              "to_account": li.current, "amount": "10"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    assert _balance(platform, li.current) == "60.00"


def test_step_up_before_money_leaves(
    signed_in: TestClient, platform: Platform, zhang: Customer, li: Customer, clock: ManualClock
) -> None:
    clock.advance(timedelta(minutes=6))  # the sign-in's second factor is no longer fresh
    csrf, key = _form(signed_in)
    data = {"csrf_token": csrf, "key": key, "from_account": zhang.current,
            "to_account": li.current, "amount": "600"}  # fmt: skip
    r = signed_in.post("/app/transfers", data=data)
    assert r.status_code == 403 and "动态码" in r.text
    assert _balance(platform, zhang.current) == "1000.00"  # nothing left yet
    step_csrf = csrf_of(r.text)
    wrong = signed_in.post(
        "/app/transfers/confirm", data={**data, "csrf_token": step_csrf, "code": "000000"}
    )
    assert wrong.status_code == 401 and _balance(platform, zhang.current) == "1000.00"
    clock.advance(timedelta(seconds=30))
    ok = signed_in.post(
        "/app/transfers/confirm",
        data={**data, "csrf_token": step_csrf, "code": zhang.totp.at(clock.now())},
    )
    assert ok.status_code == 200 and "转账成功" in ok.text
    assert _balance(platform, zhang.current) == "400.00"


def test_decline_is_explained_and_nothing_moves(
    signed_in: TestClient, platform: Platform, zhang: Customer, li: Customer
) -> None:
    csrf, key = _form(signed_in)
    r = signed_in.post(
        "/app/transfers",
        data={"csrf_token": csrf, "key": key, "from_account": zhang.current,
              "to_account": li.current, "amount": "950"},
    )  # fmt: skip
    assert r.status_code == 422
    assert "风控拒绝" in r.text and "far above this customer" in r.text
    assert _KEY.search(r.text).group(1) != key  # type: ignore[union-attr]  # a fresh form
    assert _balance(platform, zhang.current) == "1000.00"


def test_bad_input_names_the_field(
    signed_in: TestClient, platform: Platform, zhang: Customer
) -> None:
    csrf, key = _form(signed_in)
    base = {"csrf_token": csrf, "key": key, "from_account": zhang.current, "to_own": zhang.savings}
    for amount in ("abc", "-5", "1.234", "0"):
        r = signed_in.post("/app/transfers", data={**base, "amount": amount})
        assert r.status_code == 422, (amount, r.status_code)
        assert 'aria-invalid="true"' in r.text
    poor = signed_in.post("/app/transfers", data={**base, "amount": "5000", "key": key + "x"})
    assert poor.status_code in (403, 422)  # large: step-up first, or refused outright
    assert _balance(platform, zhang.current) == "1000.00"
    usd = signed_in.post(
        "/app/transfers", data={**base, "to_own": zhang.usd, "amount": "1", "key": key + "y"}
    )
    assert usd.status_code == 422 and _balance(platform, zhang.usd) == "0.00"


def test_expired_session_mid_transfer_posts_nothing(
    signed_in: TestClient, platform: Platform, zhang: Customer, clock: ManualClock
) -> None:
    csrf, key = _form(signed_in)
    clock.advance(timedelta(hours=9))  # past the absolute session lifetime
    r = signed_in.post(
        "/app/transfers",
        data={"csrf_token": csrf, "key": key, "from_account": zhang.current,
              "to_own": zhang.savings, "amount": "1"},
        follow_redirects=False,
    )  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].startswith("/app/login")
    assert _balance(platform, zhang.current) == "1000.00"


def test_account_history_search_paging_and_spending(
    signed_in: TestClient, platform: Platform, zhang: Customer, li: Customer, clock: ManualClock
) -> None:
    for i in range(25):
        platform.banking.transfer(
            zhang.principal, zhang.current, li.current, Money.of("1.00", "CNY"),
            idempotency_key=f"t{i}", description=f"coffee {i}" if i % 5 == 0 else f"lunch {i}",
        )  # fmt: skip
    platform.banking.transfer(
        zhang.principal, zhang.current, zhang.savings, Money.of("100", "CNY"), idempotency_key="own"
    )
    page = signed_in.get(f"/app/accounts/{zhang.current}")
    assert page.status_code == 200
    assert page.text.count('class="desc"') == 20 and "cursor=" in page.text
    older = re.search(r'href="(/app/accounts/[^"]+\?cursor=[0-9]+)"', page.text)
    assert older
    rest = signed_in.get(older.group(1).replace("&amp;", "&"))
    assert rest.text.count('class="desc"') == 7  # 27 postings: salary, 25 to Li, 1 to savings
    found = signed_in.get(f"/app/accounts/{zhang.current}", params={"q": "COFFEE"})
    assert found.text.count('class="desc"') == 5
    # Spending: the 25 yuan to Li count as transfers; the 100 to savings is not spending.
    assert f'hx-get="/app/accounts/{zhang.current}/spending"' in page.text  # loads after
    spend = signed_in.get(f"/app/accounts/{zhang.current}/spending", headers={"HX-Request": "true"})
    assert spend.status_code == 200 and "<html" not in spend.text  # a fragment for htmx
    assert "<html" in signed_in.get(f"/app/accounts/{zhang.current}/spending").text  # no JS
    option = json.loads(html.unescape(spend.text.split("data-echarts='")[1].split("'")[0]))
    series = {s["name"]: s["data"] for s in option["series"]}
    assert series == {"转账": ["0", "0", "0", "0", "0", "25.00"]}
