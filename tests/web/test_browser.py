"""The console in headless Chromium: log in with an API key, see the overview chart rendered.

Runs the real app under uvicorn on a free loopback port, seeded with a small slice of the
demo data, and drives Debian's chromium through Playwright (no browser download).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.browser_support import open_chromium, serious_axe_findings, serve, watch_errors

from finbridge.core import Role
from finbridge.identity.apikeys import ApiKeyService
from finbridge.platform import Platform

pytestmark = pytest.mark.browser


@pytest.fixture
def server(seeded_platform: Platform) -> Iterator[str]:
    with serve(seeded_platform) as base:
        yield base


def test_login_and_overview_chart_in_chromium(server: str, seeded_platform: Platform) -> None:
    secret = seeded_platform.settings.secret_key.get_secret_value()
    key = ApiKeyService(seeded_platform.engine, seeded_platform.clock, secret).issue(
        "browser admin", [Role.ADMIN]
    )
    errors: list[str] = []
    with open_chromium() as browser:
        page = browser.new_page()
        watch_errors(page, errors)
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
        # refusals (collected in ``errors``), and axe-core finds nothing serious on it (the
        # bar once ran off the dark header: its last links were light text on a light page).
        hrefs = page.eval_on_selector_all("header nav a", "els => els.map(e => e.href)")
        assert f"{server}/console/banking" in hrefs
        findings: dict[str, list[str]] = {}
        for href in hrefs:
            response = page.goto(href)
            assert response is not None and response.status == 200, href
            page.wait_for_load_state("load")
            if found := serious_axe_findings(page):
                findings[href] = found
        assert findings == {}

        cookies = page.context.cookies()
        session = next(c for c in cookies if c["name"] == "finbridge_session")
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        assert session["value"].startswith("fbs_")

        page.click("text=Log out")
        page.wait_for_url("**/console/login**")
    assert errors == []  # no script errors, no CSP violations
