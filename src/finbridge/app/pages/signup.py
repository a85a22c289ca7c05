"""Sign-up: KYC with identity's checks, then ONE atomic ``persons.register`` call (person,
password, audit record and the banking customer together, or nothing), a first CNY current
account opened by the bank, and the new customer signed in and sent to set up TOTP."""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from finbridge.app.i18n import N_
from finbridge.app.kit import AppPlatformDep, render
from finbridge.app.pages.auth import device_of, signed_in_response
from finbridge.core.errors import FinbridgeError, ValidationError, http_status
from finbridge.core.principal import Principal
from finbridge.identity import RegistrationRequest, check_password_policy

router = APIRouter(prefix="/app/signup", include_in_schema=False)
log = logging.getLogger(__name__)

ONBOARDING = Principal.system("app-onboarding")
FIRST_ACCOUNT = ("current", "CNY")
ID_TYPES = (
    ("prc_resident_id", N_("Resident identity card (mainland China)")),
    ("hk_id", N_("Hong Kong identity card")),
    ("passport", N_("Passport")),
)
# Field names the services use -> the label the form shows (msgids).
FIELD_LABELS: dict[str, str] = {
    "name": N_("Full name"),
    "id_type": N_("Document type"),
    "id_number": N_("Document number"),
    "phone": N_("Mobile number"),
    "password": N_("Password"),
    "password_again": N_("Password again"),
    "birth_date": N_("Date of birth"),
    "country": N_("Country of the document"),
    "document_expires": N_("Document expiry date"),
    "card_number": N_("Bank card number (optional)"),
}


def _date(value: str, field: str) -> date | None:
    value = value.strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError("use the form YYYY-MM-DD", field=field) from None


def _page(
    request: Request,
    values: dict[str, str],
    error: FinbridgeError | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "values": values,
        "error": error,
        "id_types": ID_TYPES,
        "labels": FIELD_LABELS,
    }
    return render(request, "auth/signup.html", context, status_code=status_code)


@router.get("")
def signup_page(request: Request) -> Response:
    return _page(request, {"id_type": "prc_resident_id"})


@router.post("")
def signup(
    request: Request,
    platform: AppPlatformDep,
    name: Annotated[str, Form(max_length=100)] = "",
    id_type: Annotated[str, Form(max_length=32)] = "prc_resident_id",
    id_number: Annotated[str, Form(max_length=40)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    password_again: Annotated[str, Form(max_length=200)] = "",
    birth_date: Annotated[str, Form(max_length=10)] = "",
    country: Annotated[str, Form(max_length=3)] = "",
    document_expires: Annotated[str, Form(max_length=10)] = "",
    card_number: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    # Everything typed comes back on a refusal, except the passwords.
    values = {
        "name": name, "id_type": id_type, "id_number": id_number, "phone": phone,
        "birth_date": birth_date, "country": country, "document_expires": document_expires,
        "card_number": card_number,
    }  # fmt: skip
    ids = platform.identity
    try:
        check_password_policy(password)
        if password != password_again:
            raise ValidationError("the two passwords differ", field="password_again")
        req = RegistrationRequest(
            name=name.strip(),
            id_type=id_type,
            id_number=id_number.strip(),
            phone=phone.strip(),
            birth_date=_date(birth_date, "birth_date"),
            country=country.strip().upper() or None,
            document_expires=_date(document_expires, "document_expires"),
            card_number=card_number.strip() or None,
        )
        person = ids.persons.register(req, password=password)
    except FinbridgeError as exc:
        return _page(request, values, exc, status_code=http_status(exc))
    try:
        kind, currency = FIRST_ACCOUNT
        platform.banking.open_account(
            ONBOARDING, person.customer_id, kind=kind, currency_code=currency
        )
    except FinbridgeError:
        # The customer exists and can sign in; staff can open the account later.
        log.exception("first account for new customer %s not opened", person.customer_id)
    result = ids.login.start(req.phone, password, device=device_of(request))
    if result.tokens is None:  # pragma: no cover - a new customer has no second factor yet
        return RedirectResponse("/app/login", status_code=303)
    return signed_in_response(request, platform, result.tokens, "/app/security")
