"""Credit lines in the customer app: each line's limit, what is owed and available, the next
statement, and the statements (the customer's own only: the service checks).

Instalments: a purchase is converted into 3/6/9/12 periods from the line's page; the quote page
shows the schedule and the fee before the customer confirms (converting a purchase twice gives
the first plan back, so a double submit converts once). A plan is settled early from the same
page: the money leaves the customer's deposit account, so the risk engine may ask for the
authenticator code first; the key made when the page was shown is sent again with it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from finbridge.app.i18n import N_
from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, HomeCard, customer_id, render
from finbridge.app.templating import gettext
from finbridge.core.errors import FinbridgeError, StepUpRequired, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.platform import Platform

router = APIRouter(prefix="/app/lending", include_in_schema=False)
_STEP_UP = N_("Confirm with the code from your authenticator app to settle early.")
_BAD_CODE = N_("That code is not valid. Try again.")


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
    return _line_page(request, platform, actor, line_id)


def _line_page(
    request: Request,
    platform: Platform,
    actor: Principal,
    line_id: str,
    *,
    settling: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    """The line's page; ``settling`` keeps an early settlement's plan, key and message when
    the page comes back asking for the code or saying why it was refused."""
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
            "settle_key": new_id(),
            "settling": settling or {},
        },
        status_code=status_code,
    )


@router.post("/{line_id}/instalments/{plan_id}/settle")
def settle(
    request: Request,
    line_id: str,
    plan_id: str,
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    key: Annotated[str, Form(max_length=64)] = "",
    code: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Pay a plan's unbilled principal now. The key came with the page, so a double submit
    settles once; a step-up sends the same key again with the code."""
    found = platform.lending.line(actor, line_id)  # the line first: another's is a 404
    desk = platform.lending.instalments
    if desk.plan(actor, plan_id).line_id != found.id:
        return RedirectResponse(f"/app/lending/{found.id}#instalments", status_code=303)
    if not key:  # checked after ownership, so another's ids are a 404 whatever the form says
        raise ValidationError("the form's key is missing: open the page again", field="key")

    def again(status: int, *, message: str = "", step_up: bool = False) -> Response:
        settling = {"plan_id": plan_id, "key": key, "message": message, "step_up": step_up}
        return _line_page(request, platform, actor, found.id, settling=settling,
                          status_code=status)  # fmt: skip

    if code.strip():
        try:
            platform.identity.step_up.with_totp(actor, code.strip())
        except FinbridgeError:
            return again(403, message=gettext(request, _BAD_CODE), step_up=True)
    try:
        desk.settle(actor, plan_id, idempotency_key=key)
    except StepUpRequired:
        return again(403, message=gettext(request, _STEP_UP), step_up=True)
    except FinbridgeError as exc:
        return again(422, message=exc.detail)
    return RedirectResponse(f"/app/lending/{found.id}#instalments", status_code=303)


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
