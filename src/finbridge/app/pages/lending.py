"""Credit lines in the customer app: each line's limit, what is owed and available, the next
statement, and the statements (the customer's own only: the service checks)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, HomeCard, customer_id, render
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.platform import Platform

router = APIRouter(prefix="/app/lending", include_in_schema=False)


def _view(line: Any) -> dict[str, Any]:
    available = line.limit - line.owed + line.credit_balance
    return {
        "line": line,
        "available": max(available, Money.zero(line.currency)),
        "owed": line.owed,
    }


@router.get("")
def index(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    lines = platform.lending.lines(actor, customer_id=customer_id(actor))
    return render(request, "lending/index.html", {"lines": [_view(x) for x in lines]})


@router.get("/{line_id}")
def line(
    request: Request, line_id: str, actor: AppPrincipalDep, platform: AppPlatformDep
) -> Response:
    found = platform.lending.line(actor, line_id)  # another customer's line: 404
    statements = platform.lending.statements(actor, line_id)
    return render(request, "lending/line.html", {**_view(found), "statements": statements})


def card(platform: Platform, principal: Principal) -> Mapping[str, Any] | None:
    """The home tile: the first line's available amount and next statement date."""
    lines = platform.lending.lines(principal, customer_id=customer_id(principal), limit=1)
    return None if not lines else _view(lines[0])


CARD = HomeCard("lending", "lending/_card.html", card, order=30)
