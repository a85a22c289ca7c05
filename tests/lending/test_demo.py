"""Demo seeding: lines with two months of history closed by the COB, idempotent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from tests.lending.conftest import OPS, cny

from finbridge.banking import AccountKind
from finbridge.cli.demo_lending import seed_lending
from finbridge.platform import Platform


@pytest.mark.slow  # 62 COB days: ~15 s on a quiet machine
def test_demo_seeds_lines_with_history(platform: Platform) -> None:
    platform.clock.set(datetime(2026, 6, 20, 2, tzinfo=UTC))  # type: ignore[attr-defined]
    bank = platform.banking
    for n in range(6):
        cust = bank.create_customer(OPS, kind="personal", display_name=f"demo {n}").id
        acc = bank.open_account(OPS, cust, kind=AccountKind.CURRENT, currency_code="CNY").id
        bank.deposit(OPS, acc, cny("20000.00"), idempotency_key=f"fund-{n}")
    said = seed_lending(platform)
    assert said is not None and said.startswith("6 credit lines")
    lines = platform.lending.lines(OPS)
    assert len(lines) == 6
    status = platform.cob.status(OPS)
    assert str(status.last_done) == "2026-06-19"
    statements = {x.id: platform.lending.statements(OPS, x.id) for x in lines}
    assert all(len(s) == 2 for s in statements.values())  # 5 May and 5 June
    for sts in statements.values():
        for st in sts:
            assert platform.lending.reconcile(OPS, st.id).reconciled
    # The line that never pays is past due; a grant says who granted it and why.
    assert any(x.dpd > 0 for x in lines)
    plans = [p for x in lines for p in platform.lending.instalments.plans(OPS, x.id)]
    assert [p.periods for p in plans] == [6]  # the instalment pages are not empty
    app = platform.lending.applications(OPS, lines[0].customer_id)[0]
    assert app.reasons[0].endswith("demo portfolio") and app.score is None
    assert seed_lending(platform) is None  # idempotent
