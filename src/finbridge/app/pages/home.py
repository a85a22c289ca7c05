"""Home: balances per currency, accounts, recent transactions and every engine's card."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from finbridge.app.cards import load_cards
from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, customer_id, render
from finbridge.banking import Account
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.platform import Platform

router = APIRouter(prefix="/app", include_in_schema=False)

RECENT = 8


def own_accounts(platform: Platform, actor: Principal) -> list[Account]:
    """The customer's accounts, oldest first (the order they were opened)."""
    page = platform.banking.list_accounts(actor, customer_id=customer_id(actor), limit=100)
    return sorted(page.items, key=lambda a: (a.created_at, a.id))


def totals(accounts: list[Account]) -> dict[str, Money]:
    """Balance per currency over the open and frozen accounts."""
    out: dict[str, Money] = {}
    for acc in accounts:
        if acc.status.value == "closed":
            continue
        out[acc.currency] = out.get(acc.currency, Money.zero(acc.currency)) + acc.balance
    return dict(sorted(out.items()))


@router.get("")
def home(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    # Accounts and the newest postings across them in one banking call on one connection.
    activity = platform.banking.customer_activity(actor, customer_id(actor), recent=RECENT)
    context = {
        "accounts": activity.accounts,
        "totals": totals(activity.accounts),
        "recent": activity.recent,
        "cards": load_cards(request.app.state.app_home_cards, platform, actor),
    }
    return render(request, "home/index.html", context)
