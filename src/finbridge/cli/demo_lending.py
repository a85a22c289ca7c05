"""Demo seeding for lending: the catalogue, a few credit lines with two months of history.

Six demo customers get a line each (granted by the demo operator, said so on the record: the
demo's customers have no consent or KYC file for a model decision). Their last ~two months are
replayed day by day on a clock set in the past: purchases, a cash advance, repayments that
differ by line (in full, the minimum, nothing), and every past day is closed by the COB, so the
console shows statements, interest, a late fee, a delinquent line and a purchase in 6 instalments.
Idempotent: skipped when any line exists. Takes seconds.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from finbridge.banking import AccountKind, BankingService
from finbridge.core.clock import ManualClock, business_date
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.platform import Platform

if TYPE_CHECKING:
    pass

_ACTOR = Principal.system("demo")
LINES = 6
HISTORY_DAYS = 62
MERCHANTS = ("Tmall", "JD.com", "Meituan", "Pinduoduo", "Didi")


def seed_lending(platform: Platform, say: Callable[[str], None] = lambda _: None) -> str | None:
    from finbridge.lending import CobRunner, LendingDay, LendingService

    live = platform.lending
    live.install_catalogue(_ACTOR)
    if live.lines(_ACTOR, limit=1):
        return None
    customers = _funded_customers(platform)
    if not customers:
        return None
    say(f"replaying {HISTORY_DAYS} days of credit-line history for {len(customers)} customers")
    today = business_date(platform.clock.now(), platform.settings.business_timezone)
    start = today - timedelta(days=HISTORY_DAYS)
    clock = ManualClock(_morning(start))
    # The demo's own past: a clock in the past and the bank's ledger without a posting guard
    # (as the rest of the demo's seeding), the same services and COB steps otherwise.
    bank = BankingService(platform.engine, clock)
    svc = LendingService(platform.engine, clock, bank, bank_postings=bank)
    runner = CobRunner(platform.engine, clock, LendingDay(svc).steps())
    lines = []
    for n, (cust, acc) in enumerate(customers):
        app = svc.grant_line(
            _ACTOR, cust, product_id="everyday@1", limit=Money.of(f"{(n + 1) * 2000}", "CNY"),
            deposit_account_id=acc, reason="demo portfolio", idempotency_key=f"demo-line-{n}",
        )  # fmt: skip
        assert app.line_id is not None
        lines.append(app.line_id)
    rng = random.Random(14)
    for k in range(HISTORY_DAYS):
        day = start + timedelta(days=k)
        clock.set(_morning(day))
        for n, line_id in enumerate(lines):
            _one_day(svc, rng, n, line_id, day)
        clock.set(_morning(day + timedelta(days=1)))
        runner.run(_ACTOR, until=day)
    statements = sum(len(svc.statements(_ACTOR, x)) for x in lines)
    return f"{len(lines)} credit lines, {statements} statements, COB closed to {day}"


def _one_day(svc: object, rng: random.Random, n: int, line_id: str, day: date) -> None:
    from finbridge.lending import LendingService

    assert isinstance(svc, LendingService)
    line = svc.line(_ACTOR, line_id)
    key = f"demo-{day.isoformat()}"
    if line.status == "active" and rng.random() < 0.25:
        amount = Money.of(f"{rng.randint(20, 600)}.{rng.randint(0, 99):02d}", "CNY")
        if amount <= line.limit - line.owed:
            merchant = rng.choice(MERCHANTS)
            p = svc.authorise_purchase(
                _ACTOR, line_id, amount, merchant=merchant, idempotency_key=key
            )
            svc.capture_purchase(_ACTOR, p.id, idempotency_key=key)
            # Line 1 pays its first sizeable purchase in 6 instalments (the plan pages).
            if n == 1 and amount.minor >= 20000 and not svc.instalments.plans(_ACTOR, line_id):
                svc.instalments.convert(_ACTOR, "purchase", p.id, 6)
    if n == 5 and day.day == 12 and line.status == "active":
        svc.borrow_cash(_ACTOR, line_id, Money.of("300.00", "CNY"), idempotency_key=key)
    # Repayment behaviour by line: 0-2 pay in full on the due date, 3 pays the minimum,
    # 4 never pays (goes delinquent), 5 pays half.
    for st in svc.statements(_ACTOR, line_id):
        if st.due_date != day or st.status not in ("open", "overdue") or n == 4:
            continue
        owed = st.due - st.paid  # instalments not yet billed are not due
        amount = owed if n < 3 else st.minimum_due if n == 3 else Money.rounded(
            owed.amount / 2, "CNY")  # fmt: skip
        if amount.is_positive():
            svc.repay(_ACTOR, line_id, amount, idempotency_key=f"{key}-{st.id}")


def _morning(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def _funded_customers(platform: Platform) -> list[tuple[str, str]]:
    """The first personal demo customers with a CNY current account holding money."""
    bank = platform.banking
    out: list[tuple[str, str]] = []
    for customer in bank.list_customers(_ACTOR, limit=50).items:
        for acc in bank.list_accounts(_ACTOR, customer_id=customer.id).items:
            if (acc.kind is AccountKind.CURRENT and acc.currency == "CNY"
                    and acc.balance > Money.of("1000", "CNY")):  # fmt: skip
                out.append((customer.id, acc.id))
                break
        if len(out) == LINES:
            break
    return out


# The console's simulation panel is not empty after the demo: a smaller run than the figures'
# 10,000 (about a second), cached under the data directory; skipped when one was run already.
DEMO_SIMULATION_CUSTOMERS = 2_000


def seed_lending_simulation(
    platform: Platform, say: Callable[[str], None] = lambda _: None
) -> str | None:
    from finbridge.core.errors import NotFound
    from finbridge.lending import SimulationParams

    sims = platform.lending_simulations
    try:
        sims.latest(_ACTOR)
        return None
    except NotFound:
        pass
    say(f"simulating {DEMO_SIMULATION_CUSTOMERS:,} credit-line customers over 12 months")
    result = sims.run(_ACTOR, SimulationParams(customers=DEMO_SIMULATION_CUSTOMERS))
    months = len(result.months)
    return f"portfolio simulation: {result.params.customers} customers x {months} months"
