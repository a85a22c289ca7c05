"""Sending money abroad through a quote (issue 15), like Wise: the customer names the
beneficiary and the amount the beneficiary should receive, sees the quote (rate, the ECB
reference, fee, both exact amounts, valid until) and confirms; the conversion into their wallet
in the sent currency and the hold for the transfer are one call to payments' cross-border desk.
When the guard asks for step-up the customer confirms with a TOTP code and the same request
(same quote, same idempotency key) is sent again. The beneficiary is checked by payments (IBAN,
BIC, the message's character set) and screened before any money moves.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from finbridge.app.i18n import N_
from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, customer_id, gettext, render
from finbridge.app.pages.fx import totp_refusal, wallets_of
from finbridge.banking import PostingDeclined
from finbridge.core.errors import (
    FinbridgeError,
    StepUpRequired,
    ValidationError,
    http_status,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.payments import Beneficiary
from finbridge.platform import Platform

router = APIRouter(prefix="/app/abroad", include_in_schema=False)
_STEP_UP = N_("To protect your money, please confirm this transfer with your authenticator code.")
_DECLINED = N_("Our risk controls declined this transfer. Nothing was sent.")
SENT_CURRENCIES = ("EUR", "USD", "GBP", "HKD", "JPY")
# A transfer's states as payments names them, marked so the catalogues translate them.
STATUS_WORDS = (N_("screening"), N_("ready"), N_("sent"), N_("settled"), N_("rejected"),
                N_("returned"), N_("blocked"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class AbroadForm:
    """What the customer typed, carried through the quote and step-up pages."""

    sell: str = "CNY"
    buy: str = "EUR"
    amount: str = ""  # what the beneficiary receives, in ``buy``
    name: str = ""
    iban: str = ""
    bic: str = ""
    country: str = ""
    key: str = ""
    quote_id: str = ""

    def beneficiary(self) -> Beneficiary:
        return Beneficiary(name=self.name.strip(), country=self.country.strip().upper(),
                           bic=self.bic.strip().upper(),
                           iban=self.iban.replace(" ", "").upper() or None)  # fmt: skip


Short = Annotated[str, Form(max_length=3)]
Text = Annotated[str, Form(max_length=140)]
Id = Annotated[str, Form(max_length=64)]


def _form(sell: str, buy: str, amount: str, name: str, iban: str, bic: str, country: str,
          key: str, quote_id: str = "") -> AbroadForm:  # fmt: skip
    return AbroadForm(sell, buy, amount, name, iban, bic, country, key, quote_id)


def _page(
    request: Request, platform: Platform, actor: Principal, form: AbroadForm, *,
    error: FinbridgeError | None = None, message: str | None = None,
    reasons: tuple[str, ...] = (), status_code: int = 200,
) -> Response:  # fmt: skip
    wallets = wallets_of(platform, actor)
    context: dict[str, Any] = {
        "form": form, "wallets": sorted(wallets), "sent": SENT_CURRENCIES, "error": error,
        "message": message, "reasons": reasons,
        "transfers": platform.payments.crossborder.queue(actor, limit=10),
    }  # fmt: skip
    return render(request, "abroad/index.html", context, status_code=status_code)


@router.get("")
def index(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    return _page(request, platform, actor, AbroadForm(key=new_id()))


@router.post("/quote")
def quote(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, sell: Short = "",
    buy: Short = "", amount: Text = "", name: Text = "", iban: Text = "", bic: Text = "",
    country: Short = "", key: Id = "",
) -> Response:  # fmt: skip
    form = _form(sell, buy, amount, name, iban, bic, country, key or new_id())
    try:
        if not form.name.strip():
            raise ValidationError("the beneficiary's name is required", field="name")
        q = platform.payments.fx.quote(
            actor, customer_id(actor), sell_currency=form.sell, buy_currency=form.buy,
            buy_amount=Money.of(form.amount.strip(), form.buy, field="amount"),
        )  # fmt: skip
    except FinbridgeError as exc:
        return _page(request, platform, actor, form, error=exc, status_code=http_status(exc))
    context = {"fields": asdict(replace(form, quote_id=q.id)), "form": form, "q": q}
    return render(request, "abroad/quote.html", context)


def _attempt(request: Request, platform: Platform, actor: Principal, form: AbroadForm) -> Response:
    payments = platform.payments
    try:
        q = payments.fx.get_quote(actor, form.quote_id)
        wallets = wallets_of(platform, actor)
        if q.sell.code not in wallets:
            raise ValidationError(f"you have no {q.sell.code} wallet", field="sell")
        sent = payments.crossborder.send(
            actor, from_account_id=wallets[q.sell.code], amount=q.buy,
            beneficiary=form.beneficiary(), idempotency_key=form.key, quote_id=q.id,
        )  # fmt: skip
    except StepUpRequired:
        return _step_up(request, platform, actor, form)
    except PostingDeclined as exc:
        return _page(request, platform, actor, replace(form, key=new_id(), quote_id=""),
                     message=gettext(request, _DECLINED), reasons=exc.reasons,
                     status_code=422)  # fmt: skip
    except FinbridgeError as exc:
        # A refused request is over: the form is a new one (new key, a new quote).
        return _page(request, platform, actor, replace(form, key=new_id(), quote_id=""),
                     error=exc, status_code=http_status(exc))  # fmt: skip
    return render(request, "abroad/done.html", {"t": sent, "q": q})


def _step_up(
    request: Request, platform: Platform, actor: Principal, form: AbroadForm, *,
    error: str | None = None, status_code: int = 403,
) -> Response:  # fmt: skip
    context = {"fields": asdict(form), "form": form, "error": error,
               "q": platform.payments.fx.get_quote(actor, form.quote_id),
               "message": gettext(request, _STEP_UP)}  # fmt: skip
    return render(request, "abroad/step_up.html", context, status_code=status_code)


@router.post("/send")
def send(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, sell: Short = "",
    buy: Short = "", amount: Text = "", name: Text = "", iban: Text = "", bic: Text = "",
    country: Short = "", key: Id = "", quote_id: Id = "",
) -> Response:  # fmt: skip
    form = _form(sell, buy, amount, name, iban, bic, country, key, quote_id)
    return _attempt(request, platform, actor, form)


@router.post("/confirm")
def confirm(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, sell: Short = "",
    buy: Short = "", amount: Text = "", name: Text = "", iban: Text = "", bic: Text = "",
    country: Short = "", key: Id = "", quote_id: Id = "",
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:  # fmt: skip
    """Step-up with a TOTP code, then the same sending (same quote, same key) again."""
    form = _form(sell, buy, amount, name, iban, bic, country, key, quote_id)
    refused = totp_refusal(request, platform, actor, code)
    if refused is not None:
        return _step_up(request, platform, actor, form, error=refused[0],
                        status_code=refused[1])  # fmt: skip
    return _attempt(request, platform, actor, form)
