"""Pay a person by mobile number, and request money with a link (issue 15), under ``/app/pay``.

- Pay a person: the customer gives a mobile number, an amount and the account to pay from;
  payments finds the payee (identity's phone index, through payments' port) and the page shows
  only the payee's masked name before the customer confirms. The confirm form carries an
  idempotency key made when it is rendered (a double submit pays once); when the guard asks
  for step-up the customer confirms with a TOTP code and the same request, same key, is sent
  again; a decline shows the risk engine's reasons.
- Request money: a link (and its QR code) to a request for an amount into one of the
  customer's accounts, valid for the configured time and paid once. Whoever signed in opens
  the link sees the amount, the note and the requester's masked name, and pays it from their
  own account; after its expiry it reads "expired" and paying is refused by payments.

A request's id is the capability the link shares (payments' rule: anyone signed in who has the
link may see it); every other id on these pages is the customer's own, checked by payments.
"""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from finbridge.app.i18n import N_
from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, gettext, render
from finbridge.app.pages.fx import totp_refusal
from finbridge.app.pages.home import own_accounts
from finbridge.banking import Account, PostingDeclined
from finbridge.core.errors import FinbridgeError, NotFound, StepUpRequired, http_status
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.payments import MoneyRequest, Payee, Payment
from finbridge.platform import Platform

# Included by the Pay page's router (prefix /app/pay): one entry in the app's registry.
router = APIRouter(include_in_schema=False)
# Shared with the merchant Pay page (pay.py), which includes this router.
STEP_UP = N_("To protect your money, please confirm this payment with your authenticator code.")
DECLINED = N_("Our risk controls declined this payment. Nothing was paid.")

# A request's status in words (its status arrives as data).
REQUEST_STATUS = {"open": N_("Waiting to be paid"), "paid": N_("Paid"), "expired": N_("Expired")}

Phone = Annotated[str, Form(max_length=32)]
Id = Annotated[str, Form(max_length=64)]
Amount = Annotated[str, Form(max_length=32)]
Note = Annotated[str, Form(max_length=140)]
Totp = Annotated[str, Form(max_length=12)]


def _sources(platform: Platform, actor: Principal, currency: str | None = None) -> list[Account]:
    """Open deposit accounts that can pay (a credit line cannot send money to a person)."""
    return [
        a
        for a in own_accounts(platform, actor)
        if a.status.value == "open" and a.floor.minor >= 0
        and (currency is None or a.currency == currency)
    ]  # fmt: skip


def _money(
    platform: Platform, actor: Principal, account_id: str, amount: str,
    field: str = "from_account_id",
) -> Money:  # fmt: skip
    """``amount`` in the currency of the customer's own ``account_id``."""
    try:
        currency = platform.banking.get_account(actor, account_id).currency
    except NotFound:
        raise NotFound("choose one of your accounts", field=field) from None
    return Money.of(amount.strip(), currency, field="amount")


# ---------------------------------------------------------------------- pay a person
def _person_form(
    request: Request, platform: Platform, actor: Principal, form: dict[str, str], *,
    error: FinbridgeError | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    context = {"form": form, "sources": _sources(platform, actor), "error": error}
    return render(request, "pay/person.html", context, status_code=status_code)


def _person_confirm(
    request: Request, platform: Platform, actor: Principal, form: dict[str, str],
    payee: Payee, *, status_code: int = 200, **context: Any,
) -> Response:  # fmt: skip
    money = _money(platform, actor, form["source"], form["amount"])
    full = {"form": form, "payee": payee, "money": money, **context}
    return render(request, "pay/person_confirm.html", full, status_code=status_code)


@router.get("/person")
def person(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    return _person_form(request, platform, actor, {})


@router.post("/person/preview")
def person_preview(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, phone: Phone = "",
    amount: Amount = "", source: Id = "", note: Note = "",
) -> Response:  # fmt: skip
    """Who will be paid (a masked name), before anything moves."""
    form = {"phone": phone.strip(), "amount": amount.strip(), "source": source, "note": note,
            "key": new_id()}  # fmt: skip
    try:
        money = _money(platform, actor, source, amount)
        payee = platform.payments.payments.find_payee(actor, phone=form["phone"],
                                                      currency_code=money.code)  # fmt: skip
    except FinbridgeError as exc:
        return _person_form(request, platform, actor, form, error=exc,
                            status_code=http_status(exc))  # fmt: skip
    return _person_confirm(request, platform, actor, form, payee)


def _send(request: Request, platform: Platform, actor: Principal, form: dict[str, str]) -> Response:
    pay = platform.payments.payments
    try:
        money = _money(platform, actor, form["source"], form["amount"])
        payee = pay.find_payee(actor, phone=form["phone"], currency_code=money.code)
    except FinbridgeError as exc:
        return _person_form(request, platform, actor, form, error=exc,
                            status_code=http_status(exc))  # fmt: skip
    try:
        paid = pay.send(actor, from_account_id=form["source"], amount=money,
                        idempotency_key=form["key"], phone=form["phone"],
                        note=form["note"])  # fmt: skip
    except StepUpRequired:
        return _person_confirm(request, platform, actor, form, payee,
                               step_up=gettext(request, STEP_UP), status_code=403)  # fmt: skip
    except PostingDeclined as exc:
        # A refused request is over: a new key for whatever the customer tries next.
        return _person_confirm(request, platform, actor, {**form, "key": new_id()}, payee,
                               message=gettext(request, DECLINED), reasons=exc.reasons,
                               status_code=422)  # fmt: skip
    except FinbridgeError as exc:
        return _person_confirm(request, platform, actor, {**form, "key": new_id()}, payee,
                               error=exc, status_code=http_status(exc))  # fmt: skip
    return _done(request, paid, payee.masked_name)


def _done(request: Request, paid: Payment, payee: str) -> Response:
    return render(request, "pay/done.html", {"payment": paid, "payee": payee})


@router.post("/person")
def person_send(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, phone: Phone = "",
    amount: Amount = "", source: Id = "", note: Note = "", key: Id = "",
) -> Response:  # fmt: skip
    form = {"phone": phone, "amount": amount, "source": source, "note": note, "key": key}
    return _send(request, platform, actor, form)


@router.post("/person/confirm")
def person_confirm(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, phone: Phone = "",
    amount: Amount = "", source: Id = "", note: Note = "", key: Id = "", totp: Totp = "",
) -> Response:  # fmt: skip
    """Step-up with a TOTP code, then the same payment (same key) again."""
    form = {"phone": phone, "amount": amount, "source": source, "note": note, "key": key}
    refused = totp_refusal(request, platform, actor, totp)
    if refused is not None:
        payee = platform.payments.payments.find_payee(
            actor, phone=phone, currency_code=_money(platform, actor, source, amount).code
        )
        return _person_confirm(request, platform, actor, form, payee, step_up=refused[0],
                               status_code=refused[1])  # fmt: skip
    return _send(request, platform, actor, form)


# ---------------------------------------------------------------------- request money
def _share(request: Request, money_request: MoneyRequest) -> tuple[str, str]:
    """The link to share and its QR code (an SVG data URI: no inline markup for the CSP)."""
    link = f"{str(request.base_url).rstrip('/')}/app/pay/requests/{money_request.id}"
    return link, str(segno.make(link, error="m").svg_data_uri(scale=4, border=2))


def _requests_page(
    request: Request, platform: Platform, actor: Principal, form: dict[str, str], *,
    error: FinbridgeError | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    context = {
        "form": form, "error": error, "sources": _sources(platform, actor),
        "requests": platform.payments.payments.requests_of(actor), "labels": REQUEST_STATUS,
    }  # fmt: skip
    return render(request, "pay/requests.html", context, status_code=status_code)


@router.get("/requests")
def requests(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    return _requests_page(request, platform, actor, {})


@router.post("/requests")
def create_request(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, amount: Amount = "",
    account: Id = "", note: Note = "",
) -> Response:  # fmt: skip
    form = {"amount": amount, "account": account, "note": note}
    try:
        made = platform.payments.payments.request_money(
            actor, to_account_id=account,
            amount=_money(platform, actor, account, amount, "to_account_id"), note=note,
        )  # fmt: skip
    except FinbridgeError as exc:
        return _requests_page(request, platform, actor, form, error=exc,
                              status_code=http_status(exc))  # fmt: skip
    return RedirectResponse(f"/app/pay/requests/{made.id}", status_code=303)


def _request_page(
    request: Request, platform: Platform, actor: Principal, request_id: str, *,
    key: str | None = None, source: str = "", status_code: int = 200, **context: Any,
) -> Response:  # fmt: skip
    pay = platform.payments.payments
    wanted = pay.get_request(actor, request_id)  # NotFound: the app's 404 page
    mine = wanted.requester_customer_id == actor.customer_id
    payee = pay.find_payee(actor, account_id=wanted.to_account_id,
                           currency_code=wanted.amount.code)  # fmt: skip
    full: dict[str, Any] = {
        "r": wanted, "mine": mine, "payee": payee, "key": key or new_id(), "source": source,
        "sources": [] if mine else _sources(platform, actor, wanted.amount.code),
        "labels": REQUEST_STATUS, **context,
    }  # fmt: skip
    if mine:
        full["link"], full["qr"] = _share(request, wanted)
    return render(request, "pay/request.html", full, status_code=status_code)


@router.get("/requests/{request_id}")
def show_request(
    request: Request, request_id: str, actor: AppPrincipalDep, platform: AppPlatformDep
) -> Response:
    return _request_page(request, platform, actor, request_id)


def _pay_request(
    request: Request, platform: Platform, actor: Principal, request_id: str, source: str,
    key: str,
) -> Response:  # fmt: skip
    pay = platform.payments.payments
    wanted = pay.get_request(actor, request_id)  # another's or nobody's id: 404 first
    if wanted.requester_customer_id == actor.customer_id:
        raise NotFound(f"request {request_id} not found", field="request_id")
    try:
        paid = pay.pay_request(actor, request_id, from_account_id=source, idempotency_key=key)
    except StepUpRequired:
        return _request_page(request, platform, actor, request_id, key=key, source=source,
                             step_up=gettext(request, STEP_UP), status_code=403)  # fmt: skip
    except PostingDeclined as exc:
        return _request_page(request, platform, actor, request_id, source=source,
                             message=gettext(request, DECLINED), reasons=exc.reasons,
                             status_code=422)  # fmt: skip
    except FinbridgeError as exc:
        return _request_page(request, platform, actor, request_id, source=source, error=exc,
                             status_code=http_status(exc))  # fmt: skip
    payee = pay.find_payee(actor, account_id=wanted.to_account_id,
                           currency_code=wanted.amount.code)  # fmt: skip
    return _done(request, paid, payee.masked_name)


@router.post("/requests/{request_id}")
def pay_request(
    request: Request, request_id: str, actor: AppPrincipalDep, platform: AppPlatformDep,
    source: Id = "", key: Id = "",
) -> Response:  # fmt: skip
    return _pay_request(request, platform, actor, request_id, source, key)


@router.post("/requests/{request_id}/confirm")
def confirm_request(
    request: Request, request_id: str, actor: AppPrincipalDep, platform: AppPlatformDep,
    source: Id = "", key: Id = "", totp: Totp = "",
) -> Response:  # fmt: skip
    """Step-up with a TOTP code, then the same payment (same key) again."""
    platform.payments.payments.get_request(actor, request_id)  # 404 before any code is tried
    refused = totp_refusal(request, platform, actor, totp)
    if refused is not None:
        return _request_page(request, platform, actor, request_id, key=key, source=source,
                             step_up=refused[0], status_code=refused[1])  # fmt: skip
    return _pay_request(request, platform, actor, request_id, source, key)
