"""Pay a person and request money in headless Chromium, at the phone viewport and a desktop one
(issue 15): the real forms through hx-boost, the masked payee before confirming, a request link
with its QR code made by one customer and paid by another in their own browser; every page
without script errors or CSP refusals, without sideways scrolling on the phone, and without a
serious or critical axe-core violation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.browser_support import open_chromium, serve, watch_errors

from finbridge.core import ManualClock, Money, Settings
from finbridge.platform import Platform

from .conftest import LI, SYSTEM, ZHANG, Customer, make_customer, scripted_platform
from .test_browser import DESKTOP, PHONE, _check_page, _sign_in

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with open_chromium() as chromium:
        yield chromium


@pytest.fixture
def world(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> Iterator[tuple[str, Platform, Customer, Customer]]:
    platform = scripted_platform(settings, sqlite_engine, clock)
    zhang = make_customer(platform, clock, ZHANG)
    li = make_customer(platform, clock, LI, funds="200.00")
    with serve(platform) as base:
        yield base, platform, zhang, li
    platform.close()


def _cny(platform: Platform, who: Customer) -> Money:
    bank = platform.banking
    return bank.balance(SYSTEM, who.current).balance + bank.balance(SYSTEM, who.savings).balance


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_pay_a_person_and_a_request_link_in_chromium(
    browser: Any, world: tuple[str, Platform, Customer, Customer], clock: ManualClock,
    device: str,
) -> None:  # fmt: skip
    base, platform, zhang, li = world
    phone = device == "phone"
    options = {**(PHONE if phone else DESKTOP), "locale": "zh-CN"}
    mine, hers = browser.new_context(**options), browser.new_context(**options)
    try:
        page = mine.new_page()
        errors: list[str] = []
        watch_errors(page, errors)
        _sign_in(page, base, clock, zhang)
        page.goto(f"{base}/app/pay")
        _check_page(page, errors, phone=phone)
        page.click("a[href='/app/pay/person']")
        page.wait_for_selector("#phone")
        _check_page(page, errors, phone=phone)
        page.fill("#phone", LI.phone)
        page.fill("#amount", "25.50")
        page.fill("#note", "咖啡")
        page.click("button.primary")
        page.wait_for_selector("text=李**")  # the payee's masked name, before anything moves
        _check_page(page, errors, phone=phone)
        assert _cny(platform, li) == Money.of("200.00", "CNY")
        page.click("button.primary")
        page.wait_for_selector("text=付款成功")
        _check_page(page, errors, phone=phone)
        assert _cny(platform, li) == Money.of("225.50", "CNY")

        page.goto(f"{base}/app/pay/requests")
        _check_page(page, errors, phone=phone)
        page.fill("#amount", "66.00")
        page.select_option("#account", zhang.savings)
        page.fill("#note", "电影票")
        page.click("button.primary")
        page.wait_for_selector("#link")
        page.wait_for_selector("img.qr")
        _check_page(page, errors, phone=phone)
        link = page.input_value("#link")
        assert link.startswith(f"{base}/app/pay/requests/")

        other = hers.new_page()
        watch_errors(other, errors)
        _sign_in(other, base, clock, li)
        other.goto(link)
        other.wait_for_selector("text=张**")
        _check_page(other, errors, phone=phone)
        other.select_option("#source", li.current)
        other.click("button.primary")
        other.wait_for_selector("text=付款成功")
        _check_page(other, errors, phone=phone)
        assert platform.banking.balance(SYSTEM, zhang.savings).balance == Money.of("66", "CNY")
        page.goto(link)  # the requester sees it paid, and no longer a link to share
        page.wait_for_selector("text=付款成功")
        assert page.locator("#link").count() == 0
        _check_page(page, errors, phone=phone)
    finally:
        mine.close()
        hers.close()
