"""The event catalogue and data-quality pages in headless Chromium (the demo's slice seeded)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from tests.browser_support import console_page, open_chromium, serve

from finbridge.core import Role
from finbridge.identity.apikeys import ApiKeyService
from finbridge.lake import Event
from finbridge.platform import Platform

pytestmark = pytest.mark.browser


@pytest.fixture
def server(seeded_platform: Platform) -> Iterator[str]:
    late = seeded_platform.clock.now() + timedelta(days=2)
    event = Event("login", late, {"method": "totp", "success": True}, "partner", "c1")
    result = seeded_platform.events.lake.append([event.validated()], batch="skewed")
    assert result.quarantined
    with serve(seeded_platform) as base:
        yield base


def test_catalogue_and_quality_pages_in_chromium(server: str, seeded_platform: Platform) -> None:
    secret = seeded_platform.settings.secret_key.get_secret_value()
    key = ApiKeyService(seeded_platform.engine, seeded_platform.clock, secret).issue(
        "browser admin", [Role.ADMIN]
    )
    errors: list[str] = []
    with open_chromium() as browser:
        page = console_page(browser, server, key.plaintext, errors)

        page.click("nav >> text=Event catalogue")
        page.wait_for_url(f"{server}/console/lake/catalogue")
        posted = page.locator("#catalogue tr", has_text="transaction.posted")
        assert "v1" in posted.inner_text()
        assert page.locator("#versions tbody tr").count() >= 1

        page.click("nav >> text=Data quality")
        page.wait_for_url(f"{server}/console/lake/quality")
        quarantined = page.locator("#batch-log tr.batch-quarantined")
        assert quarantined.count() == 1
        assert "occurred_at" in quarantined.inner_text()
        quarantined.locator("button", has_text="rows").click()
        page.wait_for_selector("#quarantined-rows")
        assert "login" in page.inner_text("#quarantined-rows")
        quarantined.locator("input[name=note]").fill("partner clock fixed")
        quarantined.locator("button", has_text="Discard").click()
        page.wait_for_selector("#batch-log tr.batch-discarded")
        assert "partner clock fixed" in page.inner_text("#batch-log")
        assert not errors, errors
