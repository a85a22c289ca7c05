"""Exchange: the customer's wallets and an FX conversion with a locked quote.

Like Wise: the customer asks for a quote and sees the rate, the reference rate it came from,
the fee and both exact amounts before confirming; the quote holds for the configured seconds
and is used once. The conversion is one ledger entry through the bank's FX position (see
``finbridge.payments``). Step-up and declines come from the posting guard, as for transfers:
when the guard asks for step-up the customer confirms with a TOTP code and the same quote is
executed again (a conversion refused for step-up does not use the quote up).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from finbridge.app.i18n import N_
from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, customer_id, gettext, render
from finbridge.app.pages.home import own_accounts, totals
from finbridge.core.errors import (
    AuthenticationFailed,
    FinbridgeError,
    RateLimited,
    StepUpRequired,
    ValidationError,
    http_status,
)
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.platform import Platform

router = APIRouter(prefix="/app/fx", include_in_schema=False)
Code = Annotated[str, Form(min_length=3, max_length=3)]
_STEP_UP = N_("To protect your money, please confirm this conversion with your authenticator code.")
_BAD_CODE = N_("That code is not right, or it has expired. Try the newest code.")


def wallets_of(platform: Platform, actor: Principal) -> dict[str, str]:
    """The customer's first open account per currency."""
    out: dict[str, str] = {}
    for acc in own_accounts(platform, actor):
        if acc.status.value == "open":
            out.setdefault(acc.currency, acc.id)
    return out


def _index(
    request: Request, platform: Platform, actor: Principal, *, error: FinbridgeError | None = None,
    message: str | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    accounts = own_accounts(platform, actor)
    context: dict[str, Any] = {
        "totals": totals(accounts),
        "currencies": sorted(wallets_of(platform, actor)),
        "payments": platform.payments.payments.search(actor, limit=10),
        "error": error,
        "message": message,
    }
    return render(request, "fx/index.html", context, status_code=status_code)


@router.get("")
def index(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    return _index(request, platform, actor)


@router.post("/quote")
def quote(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, sell: Code, buy: Code,
    amount: Annotated[str, Form(max_length=32)],
) -> Response:  # fmt: skip
    try:
        q = platform.payments.fx.quote(
            actor, customer_id(actor), sell_currency=sell, buy_currency=buy,
            sell_amount=Money.of(amount.strip(), sell, field="sell_amount"),
        )  # fmt: skip
    except ValidationError as exc:
        return _index(request, platform, actor, error=exc, status_code=422)
    return render(request, "fx/quote.html", {"q": q})


QuoteId = Annotated[str, Form(max_length=64)]


@router.post("/convert")
def convert(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, quote_id: QuoteId
) -> Response:
    return _convert(request, platform, actor, quote_id)


def _convert(request: Request, platform: Platform, actor: Principal, quote_id: str) -> Response:
    fx = platform.payments.fx
    q = fx.get_quote(actor, quote_id)
    wallets = wallets_of(platform, actor)
    try:
        if q.sell.code not in wallets or q.buy.code not in wallets:
            raise ValidationError("you need a wallet in both currencies", field="buy_currency")
        done = fx.execute(actor, q.id, from_account_id=wallets[q.sell.code],
                          to_account_id=wallets[q.buy.code])  # fmt: skip
    except StepUpRequired:
        return _step_up(request, q.id, platform, actor)
    except FinbridgeError as exc:
        return _index(request, platform, actor, error=exc, status_code=http_status(exc))
    return render(request, "fx/done.html", {"q": done.quote})


def _step_up(
    request: Request, quote_id: str, platform: Platform, actor: Principal, *,
    error: str | None = None, status_code: int = 403,
) -> Response:  # fmt: skip
    context = {"q": platform.payments.fx.get_quote(actor, quote_id),
               "message": gettext(request, _STEP_UP), "error": error}  # fmt: skip
    return render(request, "fx/step_up.html", context, status_code=status_code)


def totp_refusal(
    request: Request, platform: Platform, actor: Principal, code: str
) -> tuple[str, int] | None:
    """Step the session up with a TOTP code; None when it took, else the message to show and
    the status (401 a wrong or reused code, 403 too many tries). Exchange, Pay and Send abroad
    answer the guard's step-up this way, then send the same request again."""
    try:
        platform.identity.step_up.with_totp(actor, code.strip())
    except RateLimited:
        return gettext(request, _BAD_CODE), 403
    except AuthenticationFailed:
        return gettext(request, _BAD_CODE), 401
    return None


@router.post("/confirm")
def confirm(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, quote_id: QuoteId,
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:  # fmt: skip
    """Step-up with a TOTP code, then the same quote executed again."""
    refused = totp_refusal(request, platform, actor, code)
    if refused is not None:
        return _step_up(request, quote_id, platform, actor, error=refused[0],
                        status_code=refused[1])  # fmt: skip
    return _convert(request, platform, actor, quote_id)
