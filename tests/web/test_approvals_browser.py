"""The demo's dual-control queue in headless Chromium: the seeded maker's large movements are on
the console's Approvals page, and a second operator approves one (an HTMX post under the
console's CSRF rule) and it posts, exactly once."""

from __future__ import annotations

import pytest
from tests.browser_support import console_page, open_chromium, serve

from finbridge.banking import ApproveAll
from finbridge.cli.demo_approvals import MAKER, seed_approvals
from finbridge.core import Principal, Role
from finbridge.platform import Platform

pytestmark = pytest.mark.browser


def test_a_second_operator_approves_a_seeded_request_in_chromium(web_platform: Platform) -> None:
    # The threshold rule needs no risk engine; loading one would cost seconds of CPU here.
    web_platform.use_posting_guard(ApproveAll())
    summary = seed_approvals(web_platform)
    assert summary is not None and "3 pending" in summary
    assert seed_approvals(web_platform) is None  # idempotent while they wait
    bank = web_platform.banking
    ops = Principal.system("test")
    waiting = bank.approvals(ops, status="pending")
    assert {a.maker_id for a in waiting} == {MAKER.id} and len(waiting) == 3
    target = next(a for a in waiting if a.kind == "transfer")
    before = bank.balance(ops, target.to_account_id).balance
    key = web_platform.api_keys.issue("checker", [Role.TELLER]).plaintext

    errors: list[str] = []
    with serve(web_platform) as base, open_chromium() as browser:
        page = console_page(browser, base, key, errors)
        page.goto(f"{base}/console/approvals")
        rows = page.locator("#approvals tbody tr")
        assert rows.count() == 3
        assert MAKER.id in page.inner_text("#approvals")
        row = page.locator(f"#approval-{target.id}")
        row.locator("input[name=note]").first.fill("called the company back")
        row.get_by_role("button", name="Approve").click()
        page.wait_for_selector(f"#approval-{target.id} td.status:has-text('approved')")
        assert "called the company back" in page.inner_text(f"#approval-{target.id}")
    assert errors == []
    done = bank.approval(ops, target.id)
    assert done.status == "approved" and done.entry_id is not None
    assert bank.balance(ops, target.to_account_id).balance == before + target.amount
    assert len(bank.approvals(ops, status="pending")) == 2
    assert bank.verify_ledger(ops).ok
