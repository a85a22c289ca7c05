"""Pay a merchant: the customer enters (or scans) the merchant's payment code, sees who is paid
and how much, chooses a deposit account or their credit line, and pays in one call to payments.

Paying from a credit line goes through lending's purchase flow inside payments (a hold on the
line judged by risk, then its capture): the page only offers the line as a source. The form
carries an idempotency key made when it is rendered, so a double submit pays once; when the
guard asks for step-up the customer confirms with a TOTP code and the same request (same key)
is sent again. A decline shows the risk engine's reasons.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, gettext, render
from finbridge.app.pages import pay_people
from finbridge.app.pages.fx import totp_refusal
from finbridge.app.pages.home import own_accounts
from finbridge.banking import PostingDeclined
from finbridge.core.errors import (
    FinbridgeError,
    StepUpRequired,
    http_status,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.payments import CodePreview
from finbridge.platform import Platform

router = APIRouter(prefix="/app/pay", include_in_schema=False)
router.include_router(pay_people.router)  # pay a person, request money: /app/pay/...
_STEP_UP, _DECLINED = pay_people.STEP_UP, pay_people.DECLINED

Code = Annotated[str, Form(max_length=4000)]
Id = Annotated[str, Form(max_length=64)]
Amount = Annotated[str, Form(max_length=32)]


def _page(
    request: Request, platform: Platform, actor: Principal, *, code: str = "",
    error: FinbridgeError | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    """The code form, and the customer's recent payments (merchants and people, refunds)."""
    recent = platform.payments.payments.search(actor, limit=10)
    context = {"code": code, "error": error, "recent": recent}
    return render(request, "pay/index.html", context, status_code=status_code)


def _sources(platform: Platform, actor: Principal, currency: str) -> list[dict[str, Any]]:
    """The open accounts that can pay in ``currency``: deposits, and credit lines (a line is
    the customer's account floored below zero; payments books it through lending)."""
    return [
        {"account": a, "line": a.floor.minor < 0}
        for a in own_accounts(platform, actor)
        if a.status.value == "open" and a.currency == currency
    ]


def _confirm_page(
    request: Request, platform: Platform, actor: Principal, code: str, preview: CodePreview, *,
    key: str, amount: str = "", source: str = "", error: FinbridgeError | None = None,
    message: str | None = None, reasons: tuple[str, ...] = (), step_up: str | None = None,
    status_code: int = 200,
) -> Response:  # fmt: skip
    context: dict[str, Any] = {
        "code": code, "p": preview, "key": key, "amount": amount, "source": source,
        "sources": _sources(platform, actor, preview.currency), "error": error,
        "message": message, "reasons": reasons, "step_up": step_up,
    }  # fmt: skip
    return render(request, "pay/confirm.html", context, status_code=status_code)


@router.get("")
def index(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    return _page(request, platform, actor)


@router.post("/preview")
def preview(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, code: Code = ""
) -> Response:
    try:
        p = platform.payments.merchants.preview(actor, code.strip())
    except FinbridgeError as exc:
        return _page(request, platform, actor, code=code, error=exc,
                     status_code=http_status(exc))  # fmt: skip
    return _confirm_page(request, platform, actor, code.strip(), p, key=new_id())


def _attempt(
    request: Request, platform: Platform, actor: Principal, code: str, source: str, key: str,
    amount: str,
) -> Response:  # fmt: skip
    """Pay first (a retry of a paid key replays its payment, even though the code is used up
    by then); the preview is read again only to show a refusal."""
    try:
        money = Money.of(amount.strip(), _currency(platform, actor, source),
                         field="amount") if amount.strip() else None  # fmt: skip
        paid = platform.payments.payments.pay(actor, code, from_account_id=source,
                                              idempotency_key=key, amount=money)  # fmt: skip
    except StepUpRequired:
        return _refused(request, platform, actor, code, (key, amount, source),
                        step_up=gettext(request, _STEP_UP), status_code=403)  # fmt: skip
    except PostingDeclined as exc:
        # A refused request is over: a new key for whatever the customer tries next.
        return _refused(request, platform, actor, code, (new_id(), amount, source),
                        message=gettext(request, _DECLINED), reasons=exc.reasons,
                        status_code=422)  # fmt: skip
    except FinbridgeError as exc:
        return _refused(request, platform, actor, code, (new_id(), amount, source), error=exc,
                        status_code=http_status(exc))  # fmt: skip
    return render(request, "pay/done.html", {"payment": paid})


def _currency(platform: Platform, actor: Principal, account_id: str) -> str:
    return platform.banking.get_account(actor, account_id).currency


def _refused(
    request: Request, platform: Platform, actor: Principal, code: str,
    form: tuple[str, str, str], *, status_code: int, error: FinbridgeError | None = None,
    **context: Any,
) -> Response:  # fmt: skip
    """The confirm page again with what went wrong; ``form`` is (key, amount, source)."""
    key, amount, source = form
    try:
        p = platform.payments.merchants.preview(actor, code)
    except FinbridgeError as exc:  # the code itself is wrong (or gone): start again
        return _page(request, platform, actor, code=code, error=error or exc,
                     status_code=status_code)  # fmt: skip
    return _confirm_page(request, platform, actor, code, p, key=key, amount=amount,
                         source=source, error=error, status_code=status_code,
                         **context)  # fmt: skip


@router.post("")
def pay(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, code: Code = "",
    source: Id = "", key: Id = "", amount: Amount = "",
) -> Response:  # fmt: skip
    return _attempt(request, platform, actor, code, source, key, amount)


@router.post("/confirm")
def confirm(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, code: Code = "",
    source: Id = "", key: Id = "", amount: Amount = "",
    totp: Annotated[str, Form(max_length=12)] = "",
) -> Response:  # fmt: skip
    """Step-up with a TOTP code, then the same payment (same key) again."""
    refused = totp_refusal(request, platform, actor, totp)
    if refused is not None:
        return _refused(request, platform, actor, code, (key, amount, source),
                        step_up=refused[0], status_code=refused[1])  # fmt: skip
    return _attempt(request, platform, actor, code, source, key, amount)
