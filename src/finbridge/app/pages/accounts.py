"""Accounts: one account's balance and history (search, paging) and monthly spending."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, render
from finbridge.app.pages.home import own_accounts
from finbridge.app.spending import Spending, monthly_spending
from finbridge.app.templating import formatter
from finbridge.core.clock import business_date

router = APIRouter(prefix="/app/accounts", include_in_schema=False)
PAGE = 20


def _chart(spending: Spending, fmt_label: Any) -> dict[str, Any]:
    """An ECharts stacked-bar option; amounts as strings (never floats in our JSON)."""
    return {
        "aria": {"enabled": True},
        "tooltip": {"trigger": "axis"},
        "legend": {"bottom": 0},
        "grid": {"left": 8, "right": 8, "top": 16, "bottom": 40, "containLabel": True},
        "xAxis": {"type": "category", "data": spending.months},
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": fmt_label(name),
                "type": "bar",
                "stack": "spend",
                "data": [str(v) for v in values],
            }
            for name, values in spending.by_category.items()
        ],
    }


@router.get("/{account_id}")
def account(
    request: Request,
    account_id: str,
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    q: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[str | None, Query(max_length=30)] = None,
) -> Response:
    q = q.strip()
    # The account (another customer's: 404) and one page of it, searched by the database when
    # there is a query, on one connection.
    acc, page = platform.banking.account_activity(actor, account_id, q, limit=PAGE, cursor=cursor)
    items, next_cursor = page.items, page.next_cursor
    context = {
        "account": acc,
        "items": items,
        "q": q,
        "cursor": cursor,
        "next_cursor": next_cursor,
    }
    return render(request, "accounts/account.html", context)


@router.get("/{account_id}/spending")
def spending(
    request: Request, account_id: str, actor: AppPrincipalDep, platform: AppPlatformDep
) -> Response:
    """Monthly spending in the account's currency: a fragment the account page loads after it
    is shown (htmx), or a page of its own without JavaScript. It reads up to six months of
    history, so the transaction list does not wait for it."""
    acc = platform.banking.get_account(actor, account_id)  # another customer's: 404
    fmt = formatter(request)
    today = business_date(platform.clock.now(), platform.settings.business_timezone)
    found = monthly_spending(
        platform, actor, own_accounts(platform, actor), acc.currency, today, fmt.timezone
    )
    context = {
        "account": acc,
        "spending": found,
        "spend_chart": None if found.empty else _chart(found, fmt.gettext),
    }
    fragment = request.headers.get("hx-request") == "true"
    name = "accounts/_spending.html" if fragment else "accounts/spending.html"
    return render(request, name, context)
