"""Demo seeding for dual control, through banking's face, so the console's Approvals page shows
a live queue.

A made-up trading company gets an operating and a payroll account in TWD, funded by the
platform; then the seeded maker, a teller (``demo-maker``), moves money at or above the
dual-control threshold (two transfers and a cash deposit), which banking keeps pending for a
second operator. The admin key the demo prints is a different operator, so a newcomer can
approve or decline them on the Approvals page (the maker never could).

Idempotent: while requests wait, nothing is added. Requests expire after
``FINBRIDGE_BANKING__APPROVAL_TTL_SECONDS``; a later demo whose queue is empty asks again (the
keys carry the business date), from the same accounts.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from finbridge.core.clock import business_date
from finbridge.core.errors import FinbridgeError, PendingApproval
from finbridge.core.money import Money
from finbridge.core.principal import Principal, Role
from finbridge.platform import Platform

_ACTOR = Principal.system("demo")
MAKER = Principal.operator("demo-maker", [Role.TELLER], display="Teller Wang (demo maker)")
COMPANY = "Formosa Harbour Trading Co."
# Multiples of the threshold: what the maker asks for (kind, multiple, description).
ASKS = (
    ("transfer", "1.25", "supplier prepayment, container lot 7"),
    ("transfer", "1.6", "quarter-end payroll float"),
    ("deposit", "1.1", "cash takings counted at the branch"),
)


def seed_approvals(platform: Platform, say: Callable[[str], None] = lambda _: None) -> str | None:
    """Ask the demo's round of approvals unless some are pending; a summary line, or None."""
    bank = platform.banking
    threshold = bank.dual_control.get("TWD")
    if threshold is None or bank.approvals(_ACTOR, status="pending", limit=1):
        return None
    seen = bank.approvals(_ACTOR, limit=1)
    if seen:  # the accounts of an earlier round
        ops, payroll = seen[0].from_account_id, seen[0].to_account_id
    else:
        ops, payroll = _company(platform, threshold)
    say("seeding approvals: a teller's large movements waiting for a second operator")
    day = business_date(platform.clock.now(), platform.settings.business_timezone).isoformat()
    asked = 0
    for n, (kind, multiple, description) in enumerate(ASKS):
        amount = Money.rounded(threshold.amount * Decimal(multiple), "TWD")
        key = f"demo-approval-{day}-{n}"
        try:
            if kind == "transfer":
                bank.transfer(MAKER, ops, payroll, amount, idempotency_key=key,
                              description=description, channel="branch")  # fmt: skip
            else:
                bank.deposit(MAKER, ops, amount, idempotency_key=key, description=description)
        except PendingApproval:
            asked += 1
        except FinbridgeError as exc:  # a risk decline, say: the queue shows what did wait
            say(f"  not asked ({exc.code}): {description}")
    return f"approvals: {asked} pending from teller {MAKER.id} (threshold {threshold})"


def _company(platform: Platform, threshold: Money) -> tuple[str, str]:
    bank = platform.banking
    owner = bank.create_customer(_ACTOR, kind="corporate", display_name=COMPANY).id
    ops = bank.open_account(_ACTOR, owner, kind="current", currency_code="TWD").id
    payroll = bank.open_account(_ACTOR, owner, kind="current", currency_code="TWD").id
    funds = Money.rounded(threshold.amount * 5, "TWD")
    bank.deposit(_ACTOR, ops, funds, idempotency_key=f"demo-approvals-fund-{ops}",
                 description="opening balance")  # fmt: skip
    return ops, payroll
