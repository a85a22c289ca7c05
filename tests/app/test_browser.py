"""The app in headless Chromium (Debian's, through Playwright) at a phone viewport (390 x 844)
and a desktop one: sign in through the real forms (password, then TOTP), then every page: no
script errors, no CSP refusals, no horizontal scrolling on the phone, and axe-core finds no
serious or critical accessibility violation. One browser for the whole module."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from tests.browser_support import free_port, open_chromium, serve, watch_errors

from finbridge.core import ManualClock, Money, Settings
from finbridge.core.settings import ServeSettings
from finbridge.identity import StepUpGuard
from finbridge.platform import Platform

from .conftest import LI, PASSWORD, SYSTEM, ZHANG, Customer, ScriptedRisk, make_customer

pytestmark = pytest.mark.browser

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
         "device_scale_factor": 3}  # fmt: skip
DESKTOP = {"viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with open_chromium() as chromium:
        yield chromium


@pytest.fixture
def world(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> Iterator[tuple[str, Platform, Customer, dict[str, str]]]:
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    platform.use_posting_guard(StepUpGuard(platform.identity.step_up, inner=ScriptedRisk()))
    zhang = make_customer(platform, clock, ZHANG)
    li = make_customer(platform, clock, LI, funds="50.00")
    for i in range(3):
        platform.banking.transfer(
            zhang.principal, zhang.current, li.current, Money.of("12.30", "CNY"),
            idempotency_key=f"b{i}", description=f"午餐 {i}",
        )  # fmt: skip
    msg = platform.identity.inbox.deliver(
        SYSTEM, zhang.id, kind="offer", title="理财早餐", body="今日市场要闻", link="/app"
    )
    platform.identity.consents.grant(zhang.principal, zhang.id, "marketing", ["contact"])
    ids = {"account": zhang.current, "message": msg.id}
    with serve(platform) as base:
        yield base, platform, zhang, ids


def _check_page(page: Any, errors: list[str], *, phone: bool) -> None:
    page.wait_for_load_state("networkidle")  # htmx-loaded parts (the spending chart) too
    if page.locator("[data-echarts]").count():
        page.wait_for_selector("[data-echarts][data-rendered='true'] svg")
    if phone:
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{page.url} scrolls sideways by {overflow}px on a phone"
    page.evaluate(AXE)
    result = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    assert result == [], f"{page.url}: {result}"
    assert errors == [], f"{page.url}: {errors}"


def _checks_can_fail(page: Any, errors: list[str]) -> None:
    """The watchers are live: an inline script is refused by the CSP and reported, and axe
    reports an image without a text alternative."""
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';"
        " document.body.appendChild(s);"
        " const i = document.createElement('img'); i.src = 'data:,';"
        " document.body.appendChild(i); }"
    )
    page.wait_for_timeout(200)
    assert any("Content Security Policy" in e for e in errors), errors
    assert page.evaluate("typeof window.x") == "undefined"
    ids = page.evaluate("async () => (await axe.run()).violations.map(v => v.id)")
    assert "image-alt" in ids


def _sign_in(page: Any, base: str, clock: ManualClock, who: Customer) -> None:
    page.goto(f"{base}/app")
    assert "/app/login" in page.url  # anonymous: sent to sign in
    page.fill("#phone", who.req.phone)
    page.fill("#password", PASSWORD)
    page.click("button.primary")
    page.wait_for_selector("#code")
    clock.advance(timedelta(seconds=30))
    page.fill("#code", who.totp.at(clock.now()))
    page.click("button.primary")
    page.wait_for_selector("#totals-h")


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_every_page_in_chromium(
    browser: Any, world: tuple[str, Platform, Customer, dict[str, str]], clock: ManualClock,
    device: str,
) -> None:  # fmt: skip
    base, platform, zhang, ids = world
    phone = device == "phone"
    context = browser.new_context(**(PHONE if phone else DESKTOP), locale="zh-CN")
    try:
        page = context.new_page()
        errors: list[str] = []
        watch_errors(page, errors)
        for anonymous in ("/app/login", "/app/signup"):
            page.goto(base + anonymous)
            _check_page(page, errors, phone=phone)
        _sign_in(page, base, clock, zhang)
        # Boosted navigation (no full page load): the chart still loads ECharts and draws.
        page.click(f"a[href='/app/accounts/{ids['account']}']")
        page.wait_for_selector("#spending [data-echarts][data-rendered='true'] svg")
        cookie = next(c for c in context.cookies() if c["name"] == "finbridge_app")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/app"
        for path in (
            "/app",
            f"/app/accounts/{ids['account']}",
            f"/app/accounts/{ids['account']}?q=午餐",
            f"/app/accounts/{ids['account']}/spending",
            "/app/transfers",
            "/app/messages",
            f"/app/messages/{ids['message']}",
            "/app/security",
            "/app/privacy",
        ):
            response = page.goto(base + path)
            assert response is not None and response.status == 200, path
            _check_page(page, errors, phone=phone)
        # A boosted form: a transfer between own accounts, then the language switch.
        page.goto(f"{base}/app/transfers")
        page.select_option("#to_own", zhang.savings)
        page.fill("#amount", "8.80")
        page.click("button.primary")
        page.wait_for_selector("text=转账成功")
        _check_page(page, errors, phone=phone)
        assert str(platform.banking.get_account(SYSTEM, zhang.savings).balance.amount) == "8.80"
        page.click("button[lang=en]")
        page.wait_for_selector("text=Transfer")
        assert page.get_attribute("html", "lang") == "en"
        _check_page(page, errors, phone=phone)
        _checks_can_fail(page, errors)
    finally:
        context.close()


def test_passkeys_in_chromium(
    browser: Any, settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    """static/passkey.js with Chromium's virtual authenticator (DevTools WebAuthn domain): add a
    passkey, sign in with it, and confirm a transfer with it (served as localhost: the RP id)."""
    port = free_port()
    platform = Platform(
        settings=settings.with_changes(serve=ServeSettings(host="localhost", port=port)),
        engine=sqlite_engine,
        clock=clock,
    )
    platform.use_posting_guard(StepUpGuard(platform.identity.step_up, inner=ScriptedRisk()))
    zhang = make_customer(platform, clock, ZHANG)
    li = make_customer(platform, clock, LI, funds="0")
    with serve(platform, port, "localhost") as base:
        context = browser.new_context(**DESKTOP, locale="zh-CN")
        try:
            page = context.new_page()
            errors: list[str] = []
            watch_errors(page, errors)
            cdp = context.new_cdp_session(page)
            cdp.send("WebAuthn.enable")
            cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
                "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                "hasUserVerification": True, "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }})  # fmt: skip
            _sign_in(page, base, clock, zhang)
            page.goto(f"{base}/app/security")
            page.click("[data-passkey-register]")
            page.wait_for_selector("#passkeys-h ~ ul.rows li:not(.muted)")
            context.clear_cookies()
            page.goto(f"{base}/app/login")
            page.fill("#phone", zhang.req.phone)
            page.fill("#password", PASSWORD)
            page.click("button.primary")
            page.click("[data-passkey-login]")
            page.wait_for_selector("#totals-h")
            clock.advance(timedelta(minutes=6))  # the sign-in's factor goes stale
            page.goto(f"{base}/app/transfers")
            page.fill("#to_account", li.current)
            page.fill("#amount", "600")
            page.click("button.primary")
            page.click("[data-passkey-stepup]")
            page.wait_for_selector("text=转账成功")
            assert errors == []
        finally:
            context.close()
    assert str(platform.banking.get_account(SYSTEM, li.current).balance.amount) == "600.00"
