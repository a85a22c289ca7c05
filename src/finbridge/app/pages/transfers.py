"""Transfers: between the customer's own accounts and to another customer's account.

- The form carries an idempotency key made when it is rendered, so a double submit (or a retry
  after a timeout) posts once; banking scopes the key to the customer.
- When the guard (identity's step-up over the risk engine) asks for step-up, the customer
  confirms with a TOTP code and the same request, same key, is sent again: the money leaves
  only after the second factor. A decline shows the risk engine's reasons in words.
- An expired session mid-transfer is a redirect to sign-in: nothing was posted.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from finbridge.app.i18n import N_
from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, customer_id, gettext, render
from finbridge.app.pages.home import own_accounts
from finbridge.banking import Account, PostingDeclined, PostingResult
from finbridge.core.errors import (
    AuthenticationFailed,
    FinbridgeError,
    RateLimited,
    StepUpRequired,
    ValidationError,
    http_status,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.platform import Platform

router = APIRouter(prefix="/app/transfers", include_in_schema=False)

CHANNEL = "app"
_STEP_UP = N_("To protect your money, please confirm this transfer with your authenticator code.")
_DECLINED = N_("Our risk controls declined this transfer. Nothing was sent.")
_BAD_CODE = N_("That code is not right, or it has expired. Try the newest code.")


@dataclass(frozen=True, slots=True)
class TransferForm:
    """What the customer typed, kept to re-render the form or the step-up page."""

    from_account: str = ""
    to_own: str = ""
    to_account: str = ""
    amount: str = ""
    currency: str = "CNY"
    description: str = ""
    key: str = ""

    @property
    def destination(self) -> str:
        return self.to_account.strip() or self.to_own


def _page(
    request: Request,
    platform: Platform,
    actor: Principal,
    form: TransferForm,
    *,
    error: FinbridgeError | None = None,
    message: str | None = None,
    reasons: tuple[str, ...] = (),
    status_code: int = 200,
) -> Response:
    accounts = [a for a in own_accounts(platform, actor) if a.status.value == "open"]
    context: dict[str, Any] = {
        "form": form,
        "accounts": accounts,
        "error": error,
        "message": message,
        "reasons": reasons,
    }
    return render(request, "transfers/index.html", context, status_code=status_code)


@router.get("")
def transfer_form(
    request: Request,
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    from_: Annotated[str, Query(alias="from", max_length=40)] = "",
) -> Response:
    return _page(request, platform, actor, TransferForm(from_account=from_, key=new_id()))


def _send(platform: Platform, actor: Principal, form: TransferForm) -> PostingResult:
    if not form.key:
        raise ValidationError("the form has no idempotency key; reload it", field="key")
    if not form.destination:
        raise ValidationError("choose where the money goes", field="to_account")
    source = platform.banking.get_account(actor, form.from_account)
    amount = Money.of(form.amount.strip(), source.currency, field="amount")
    return platform.banking.transfer(
        actor,
        source.id,
        form.destination,
        amount,
        idempotency_key=form.key,
        description=form.description.strip(),
        channel=CHANNEL,
    )


def _attempt(
    request: Request, platform: Platform, actor: Principal, form: TransferForm
) -> Response:
    try:
        result = _send(platform, actor, form)
    except StepUpRequired:
        return _step_up_page(request, platform, actor, form)
    except PostingDeclined as exc:
        return _page(
            request,
            platform,
            actor,
            _fresh_key(form),
            message=gettext(request, _DECLINED),
            reasons=exc.reasons,
            status_code=422,
        )
    except FinbridgeError as exc:
        return _page(
            request, platform, actor, _fresh_key(form), error=exc, status_code=http_status(exc)
        )
    return _done(request, platform, actor, result)


def _fresh_key(form: TransferForm) -> TransferForm:
    """After a refusal the form is a new request: a new key (the old one keeps its answer)."""
    return replace(form, key=new_id())


def _step_up_page(
    request: Request,
    platform: Platform,
    actor: Principal,
    form: TransferForm,
    *,
    error: str | None = None,
    status_code: int = 403,
) -> Response:
    source = _own_account(platform, actor, form.from_account)
    context: dict[str, Any] = {
        "form": form,
        "source": source,
        "amount": Money.of(form.amount.strip(), source.currency, field="amount"),
        "message": gettext(request, _STEP_UP),
        "error": error,
        "has_passkey": bool(platform.identity.passkeys.list(actor)),
    }
    return render(request, "transfers/step_up.html", context, status_code=status_code)


def _own_account(platform: Platform, actor: Principal, account_id: str) -> Account:
    return platform.banking.get_account(actor, account_id)


def _done(
    request: Request, platform: Platform, actor: Principal, result: PostingResult
) -> Response:
    own = {a.id for a in own_accounts(platform, actor)}
    context = {"result": result, "to_own": result.to_account_id in own}
    return render(request, "transfers/done.html", context)


def _form(
    from_account: str, to_own: str, to_account: str, amount: str, description: str, key: str
) -> TransferForm:
    return TransferForm(
        from_account=from_account,
        to_own=to_own,
        to_account=to_account,
        amount=amount,
        description=description,
        key=key,
    )


FromField = Annotated[str, Form(max_length=40)]
ToOwnField = Annotated[str, Form(max_length=40)]
ToAccountField = Annotated[str, Form(max_length=40)]
AmountField = Annotated[str, Form(max_length=32)]
DescriptionField = Annotated[str, Form(max_length=140)]
KeyField = Annotated[str, Form(max_length=64)]


@router.post("")
def transfer(
    request: Request,
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    from_account: FromField = "",
    to_own: ToOwnField = "",
    to_account: ToAccountField = "",
    amount: AmountField = "",
    description: DescriptionField = "",
    key: KeyField = "",
) -> Response:
    form = _form(from_account, to_own, to_account, amount, description, key)
    return _attempt(request, platform, actor, form)


@router.post("/confirm")
def confirm(
    request: Request,
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    code: Annotated[str, Form(max_length=12)] = "",
    from_account: FromField = "",
    to_own: ToOwnField = "",
    to_account: ToAccountField = "",
    amount: AmountField = "",
    description: DescriptionField = "",
    key: KeyField = "",
) -> Response:
    """Step-up with a TOTP code, then the same transfer (same key) again."""
    form = _form(from_account, to_own, to_account, amount, description, key)
    try:
        platform.identity.step_up.with_totp(actor, code.strip())
    except RateLimited:
        return _step_up_page(request, platform, actor, form, error=gettext(request, _BAD_CODE))
    except AuthenticationFailed:
        return _step_up_page(
            request, platform, actor, form, error=gettext(request, _BAD_CODE), status_code=401
        )
    return _attempt(request, platform, actor, form)


# Passkey step-up: static/passkey.js gets the options, signs, sends the assertion, then posts
# the page's retry form (the same transfer, same key) once the session is stepped up.
PASSKEY_STEP_UP = "webauthn.step_up"


class AssertionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: dict[str, Any]


@router.post("/passkey/options")
def passkey_options(actor: AppPrincipalDep, platform: AppPlatformDep) -> dict[str, Any]:
    return platform.identity.passkeys.authentication_options(customer_id(actor), PASSKEY_STEP_UP)


@router.post("/passkey", status_code=204)
def passkey_step_up(actor: AppPrincipalDep, platform: AppPlatformDep, body: AssertionBody) -> None:
    platform.identity.passkeys.step_up(actor, body.credential)
