"""The console in headless Chromium: log in with an API key, see the overview chart rendered.

Runs the real app under uvicorn on a free loopback port, seeded with a small slice of the
demo data, and drives Debian's chromium through Playwright (no browser download).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from finbridge.api import create_app
from finbridge.core import Role
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(seeded_platform: Platform) -> Iterator[str]:
    port = _free_port()
    config = uvicorn.Config(
        create_app(platform=seeded_platform), host="127.0.0.1", port=port, log_level="warning"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    else:
        pytest.fail("uvicorn did not start")
    yield base
    srv.should_exit = True
    thread.join(timeout=10)


def test_login_and_overview_chart_in_chromium(server: str, seeded_platform: Platform) -> None:
    from playwright.sync_api import sync_playwright

    secret = seeded_platform.settings.secret_key.get_secret_value()
    key = ApiKeyService(seeded_platform.engine, seeded_platform.clock, secret).issue(
        "browser admin", [Role.ADMIN]
    )
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            # Script exceptions and CSP refusals are failures; the 401 of the wrong key is not.
            page.on(
                "console",
                lambda msg: (
                    errors.append(msg.text) if "Content Security Policy" in msg.text else None
                ),
            )
            page.goto(f"{server}/console")
            assert "/console/login" in page.url  # anonymous: sent to the login page

            page.fill("#api_key", key.plaintext + "-wrong")
            page.click("button[type=submit]")
            page.wait_for_selector("p.error")
            assert "not valid" in page.inner_text("#login-form")

            page.fill("#api_key", key.plaintext)
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/console")
            assert page.inner_text("h1") == "Overview"
            assert "browser admin" in page.inner_text("header")

            page.wait_for_selector("#volume-chart[data-rendered='true'] canvas")
            box = page.locator("#volume-chart canvas").first.bounding_box()
            assert box is not None and box["width"] > 200 and box["height"] > 100
            # ECharts really drew the series (its model holds the 22 UTC days of payments).
            days = page.evaluate(
                "echarts.getInstanceByDom(document.getElementById('volume-chart'))"
                ".getOption().xAxis[0].data.length"
            )
            assert days == 22

            page.click("text=Verify ledger")
            page.wait_for_selector("#ledger-ok")
            assert "every balance equals the sum" in page.inner_text("#ledger-report")

            # Every package's console page loads in the shell without script errors or CSP
            # refusals (collected in ``errors``).
            hrefs = page.eval_on_selector_all("header nav a", "els => els.map(e => e.href)")
            assert f"{server}/console/banking" in hrefs
            for href in hrefs:
                response = page.goto(href)
                assert response is not None and response.status == 200, href
                page.wait_for_load_state("load")

            cookies = page.context.cookies()
            session = next(c for c in cookies if c["name"] == "finbridge_session")
            assert session["httpOnly"] and session["sameSite"] == "Strict"
            assert session["value"].startswith("fbs_")

            page.click("text=Log out")
            page.wait_for_url("**/console/login**")
        finally:
            browser.close()
    assert errors == []  # no script errors, no CSP violations
