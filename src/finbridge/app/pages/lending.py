"""Credit lines in the customer app: each line's limit, what is owed and available, the next
statement, and the statements (the customer's own only: the service checks).

Instalments: a purchase is converted into 3/6/9/12 periods from the line's page; the quote page
shows the schedule and the fee before the customer confirms (converting a purchase twice gives
the first plan back, so a double submit converts once)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, HomeCard, customer_id, render
from finbridge.core.errors import ValidationError
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
    desk = platform.lending.instalments
    return render(
        request,
        "lending/line.html",
        {
            **_view(found),
            "statements": statements,
            "plans": desk.plans(actor, line_id),
            "convertible": desk.convertible(actor, line_id) if found.status == "active" else [],
        },
    )


@router.get("/{line_id}/instalments")
def quote(
    request: Request,
    line_id: str,
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    purchase_id: Annotated[str, Query(max_length=40)] = "",
    periods: Annotated[int, Query()] = 12,
) -> Response:
    """The schedule and the fee, before anything is converted."""
    found = platform.lending.line(actor, line_id)  # the line first: another's is a 404
    if not purchase_id:
        return RedirectResponse(f"/app/lending/{found.id}", status_code=303)
    plan = platform.lending.instalments.quote(actor, "purchase", purchase_id, periods)
    if plan.line_id != found.id:
        return RedirectResponse(f"/app/lending/{found.id}", status_code=303)
    choices = tuple(found.terms.get("instalment_periods") or ())
    return render(request, "lending/quote.html", {"line": found, "plan": plan, "choices": choices})


@router.post("/{line_id}/instalments")
def convert(
    line_id: str,
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    purchase_id: Annotated[str, Form(max_length=40)] = "",
    periods: Annotated[int, Form()] = 0,
) -> Response:
    found = platform.lending.line(actor, line_id)  # the line first: another's is a 404
    if not purchase_id:
        raise ValidationError("choose a purchase to pay in instalments", field="purchase_id")
    platform.lending.instalments.convert(actor, "purchase", purchase_id, periods)
    return RedirectResponse(f"/app/lending/{found.id}#instalments", status_code=303)


def card(platform: Platform, principal: Principal) -> Mapping[str, Any] | None:
    """The home tile: the first line's available amount and next statement date."""
    lines = platform.lending.lines(principal, customer_id=customer_id(principal), limit=1)
    return None if not lines else _view(lines[0])


CARD = HomeCard("lending", "lending/_card.html", card, order=30)
