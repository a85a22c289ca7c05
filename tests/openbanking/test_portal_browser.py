"""The developer portal's sandbox panel in headless Chromium: a developer sees its own sandbox's
accounts with their balances, presses Reset (an HTMX post under the console's CSRF rule, after
a confirmation) and the panel comes back with the seeded balances, as does the sandbox."""

from __future__ import annotations

import pytest
from tests.browser_support import AXE, console_page, open_chromium, serve
from thirdparty_app.client import new_key

from finbridge.core import Money, Role
from finbridge.platform import Platform

pytestmark = pytest.mark.browser


def test_a_developer_resets_its_sandbox_from_the_portal(platform: Platform) -> None:
    ob = platform.openbanking
    key = platform.api_keys.issue("dev", [Role.PARTNER]).plaintext
    dev = platform.api_keys.authenticate(key)
    ob.apps.register(
        dev, name="Sandy", developer="Sandy Ltd", redirect_uris=["https://sandy.example/cb"],
        jwks={"keys": [new_key().as_dict(private=False)]}, scopes=["accounts"], sandbox=True,
    )  # fmt: skip
    current, savings = ob.sandbox_of(dev).customers[0].accounts
    ob.sandbox.transfer(dev.id, current.id, savings.id, Money.of("100.00", "CNY"), reference="r",
                        description="spent")  # fmt: skip
    spent = current.balance - Money.of("100.00", "CNY")

    errors: list[str] = []
    with serve(platform) as base, open_chromium() as browser:
        page = console_page(browser, base, key, errors, landing="/console/developers")
        panel = page.locator("section[id^=sandbox-]")
        assert f"{current.id} current CNY {spent.amount}" in panel.inner_text()
        page.evaluate(AXE)  # the panel itself (the console's menu has contrast findings of its own)
        found = page.evaluate(
            "async () => (await axe.run('section[id^=sandbox-]', {resultTypes: ['violations']}))"
            ".violations.filter(v => v.impact === 'serious' || v.impact === 'critical')"
            ".map(v => v.id)"
        )
        assert found == []
        page.on("dialog", lambda dialog: dialog.accept())
        panel.get_by_role("button", name="Reset sandbox").click()
        page.wait_for_selector(
            f"section[id^=sandbox-]:has-text('{current.id} current CNY {current.balance.amount}')"
        )
    assert errors == []
    assert ob.sandbox.balance(dev.id, current.id).balance == current.balance
