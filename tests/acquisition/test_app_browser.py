"""The "For you" page in headless Chromium at a phone's 390 x 844: offers with their reasons and
the message time zone, set through the real form; no horizontal scroll, no script error or CSP
refusal, and axe finds no serious or critical violation, before and after the change."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.acquisition.conftest import read_news
from tests.app.conftest import PASSWORD, SYSTEM, ZHANG, make_customer
from tests.browser_support import open_chromium, serious_axe_findings, serve, watch_errors

from finbridge.core import ManualClock, Settings
from finbridge.platform import Platform

pytestmark = pytest.mark.browser
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 3}  # fmt: skip


@pytest.fixture
def chromium() -> Iterator[Any]:
    with open_chromium() as browser:
        yield browser


def _clean(page: Any, errors: list[str]) -> None:
    page.wait_for_load_state("networkidle")
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px on a phone"
    assert serious_axe_findings(page) == [], page.url
    assert errors == [], errors


def test_for_you_page_on_a_phone(
    chromium: Any, settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    zhang = make_customer(platform, clock, ZHANG)
    platform.identity.consents.grant(SYSTEM, zhang.id, "marketing", ["behaviour"])
    read_news(platform, zhang.id, clock.now() - timedelta(hours=2), "基金净值走高")
    platform.acquisition.refresh_profiles(SYSTEM)
    with serve(platform) as base:
        context = chromium.new_context(**PHONE, locale="zh-CN")
        page = context.new_page()
        errors: list[str] = []
        watch_errors(page, errors)
        page.goto(f"{base}/app")
        page.fill("#phone", zhang.req.phone)
        page.fill("#password", PASSWORD)
        page.click("button.primary")
        page.wait_for_selector("#code")
        clock.advance(timedelta(seconds=30))
        page.fill("#code", zhang.totp.at(clock.now()))
        page.click("button.primary")
        page.wait_for_selector("#totals-h")

        page.goto(f"{base}/app/acquisition")
        assert "R1" in page.content()  # an offer within the customer's level, with its reason
        assert page.input_value("#acq-timezone") == "Asia/Shanghai"
        _clean(page, errors)
        page.select_option("#acq-timezone", "America/Sao_Paulo")
        page.click("#timezone button[type=submit]")
        page.wait_for_url("**/app/acquisition*")
        assert page.input_value("#acq-timezone") == "America/Sao_Paulo"
        _clean(page, errors)
        context.close()
    assert platform.acquisition.timezone_of(SYSTEM, zhang.id) == "America/Sao_Paulo"
    platform.close()
