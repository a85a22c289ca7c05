"""Consents: what an app asks for (RFC 9396 ``authorization_details``), parsed into a consent
with its status lifecycle.

awaiting_authorisation -> authorised | rejected | expired
authorised -> consumed (a single payment made) | revoked | expired
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from finbridge.core.errors import ValidationError
from finbridge.core.money import Money
from finbridge.openbanking.tables import ConsentRow


class ConsentKind(StrEnum):
    ACCOUNT_ACCESS = "account_access"
    PAYMENT = "payment"  # one specific payment
    PAYMENT_MANDATE = "payment_mandate"  # variable recurring payments within limits
    # Abroad, through payments' cross-border desk: to a beneficiary (IBAN or account + BIC).
    CROSS_BORDER_PAYMENT = "cross_border_payment"
    CROSS_BORDER_MANDATE = "cross_border_mandate"


class ConsentStatus(StrEnum):
    AWAITING_AUTHORISATION = "awaiting_authorisation"
    AUTHORISED = "authorised"
    REJECTED = "rejected"
    CONSUMED = "consumed"
    REVOKED = "revoked"
    EXPIRED = "expired"


PERMISSIONS: tuple[str, ...] = ("accounts", "balances", "transactions")
# The scope an app must have registered for each kind of consent.
SCOPE_OF: dict[ConsentKind, str] = {
    ConsentKind.ACCOUNT_ACCESS: "accounts",
    ConsentKind.PAYMENT: "payments",
    ConsentKind.PAYMENT_MANDATE: "payments",
    ConsentKind.CROSS_BORDER_PAYMENT: "cross_border_payments",
    ConsentKind.CROSS_BORDER_MANDATE: "cross_border_payments",
}
SINGLE_PAYMENTS = frozenset({ConsentKind.PAYMENT, ConsentKind.CROSS_BORDER_PAYMENT})
CROSS_BORDER = frozenset({ConsentKind.CROSS_BORDER_PAYMENT, ConsentKind.CROSS_BORDER_MANDATE})
_BENEFICIARY_FIELDS = {"name": 140, "country": 2, "bic": 11, "iban": 34, "account": 34}
_MAX_DAYS = 180
_HISTORY_DAYS = 365


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """A parsed, validated request; amounts in minor units of ``currency``."""

    kind: ConsentKind
    permissions: tuple[str, ...]
    expires_at: datetime
    from_date: datetime | None = None
    to_date: datetime | None = None
    currency: str | None = None
    creditor_account_id: str | None = None
    amount_minor: int | None = None
    max_per_payment_minor: int | None = None
    max_total_minor: int | None = None
    beneficiary: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Consent:
    id: str
    client_id: str
    customer_id: str | None
    kind: ConsentKind
    status: ConsentStatus
    permissions: tuple[str, ...]
    account_ids: tuple[str, ...]
    expires_at: datetime
    created_at: datetime
    status_changed_at: datetime
    from_date: datetime | None
    to_date: datetime | None
    amount: Money | None
    max_per_payment: Money | None
    max_total: Money | None
    creditor_account_id: str | None
    # Cross-border: whom the money goes to (name, country, BIC, IBAN or account).
    beneficiary: dict[str, Any] | None = None

    @classmethod
    def of(cls, row: ConsentRow) -> Consent:
        def money(minor: int | None) -> Money | None:
            return (
                None
                if minor is None or row.currency is None
                else Money.from_minor(minor, row.currency)
            )

        return cls(
            id=row.id,
            client_id=row.client_id,
            customer_id=row.customer_id,
            kind=ConsentKind(row.kind),
            status=ConsentStatus(row.status),
            permissions=tuple(row.permissions),
            account_ids=tuple(row.account_ids),
            expires_at=aware(row.expires_at),
            created_at=aware(row.created_at),
            status_changed_at=aware(row.status_changed_at),
            from_date=aware(row.from_date) if row.from_date else None,
            to_date=aware(row.to_date) if row.to_date else None,
            amount=money(row.amount_minor),
            max_per_payment=money(row.max_per_payment_minor),
            max_total=money(row.max_total_minor),
            creditor_account_id=row.creditor_account_id,
            beneficiary=dict(row.beneficiary) if row.beneficiary else None,
        )


def aware(value: datetime) -> datetime:
    """SQLite gives naive datetimes back; they were stored in UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_request(raw: str | None, now: datetime) -> ConsentRequest:
    """``authorization_details``: a JSON list with one object of a known ``type``."""
    field = "authorization_details"
    if not raw:
        raise ValidationError("authorization_details is required", field=field)
    try:
        details = json.loads(raw)
    except ValueError:
        raise ValidationError("authorization_details must be JSON", field=field) from None
    if not isinstance(details, list) or len(details) != 1 or not isinstance(details[0], dict):
        raise ValidationError("authorization_details must be a list of one object", field=field)
    item: dict[str, Any] = details[0]
    try:
        kind = ConsentKind(str(item.get("type")))
    except ValueError:
        kinds = ", ".join(k.value for k in ConsentKind)
        raise ValidationError(f"type must be one of {kinds}", field=f"{field}.type") from None
    days = _int(
        item.get("expires_in_days", 90 if kind is ConsentKind.ACCOUNT_ACCESS else 1),
        f"{field}.expires_in_days",
        1,
        _MAX_DAYS,
    )
    expires_at = now + timedelta(days=days)
    if kind is ConsentKind.ACCOUNT_ACCESS:
        return _account_access(item, now, expires_at)
    return _payment(kind, item, expires_at)


def _account_access(item: dict[str, Any], now: datetime, expires_at: datetime) -> ConsentRequest:
    field = "authorization_details"
    permissions = item.get("permissions")
    if (
        not isinstance(permissions, list)
        or not permissions
        or any(p not in PERMISSIONS for p in permissions)
    ):
        raise ValidationError(
            f"permissions: a non-empty list of {', '.join(PERMISSIONS)}",
            field=f"{field}.permissions",
        )
    start = _date(item.get("transaction_from"), f"{field}.transaction_from")
    end = _date(item.get("transaction_to"), f"{field}.transaction_to")
    from_dt = _midnight(start) if start else now - timedelta(days=_HISTORY_DAYS)
    to_dt = _midnight(end + timedelta(days=1)) if end else expires_at
    if to_dt <= from_dt:
        raise ValidationError(
            "transaction_to is before transaction_from", field=f"{field}.transaction_to"
        )
    if from_dt < now - timedelta(days=_HISTORY_DAYS * 2):
        raise ValidationError(
            "transaction_from reaches back more than two years", field=f"{field}.transaction_from"
        )
    ordered = tuple(p for p in PERMISSIONS if p in permissions)
    return ConsentRequest(ConsentKind.ACCOUNT_ACCESS, ordered, expires_at, from_dt, to_dt)


def _payment(kind: ConsentKind, item: dict[str, Any], expires_at: datetime) -> ConsentRequest:
    field = "authorization_details"
    beneficiary = _beneficiary(item.get("beneficiary")) if kind in CROSS_BORDER else None
    if beneficiary is not None:
        creditor = beneficiary["iban"] or beneficiary["account"]
    else:
        creditor = item.get("creditor_account")
        if not isinstance(creditor, str) or not 1 <= len(creditor) <= 36:
            raise ValidationError(
                "creditor_account (an account id) is required", field=f"{field}.creditor_account"
            )
    currency = item.get("currency")
    if kind in SINGLE_PAYMENTS:
        amount = _money(item.get("instructed_amount"), currency, f"{field}.instructed_amount")
        return ConsentRequest(
            kind,
            ("payments",),
            expires_at,
            currency=amount.code,
            creditor_account_id=creditor,
            amount_minor=amount.minor,
            beneficiary=beneficiary,
        )
    per = _money(item.get("max_per_payment"), currency, f"{field}.max_per_payment")
    total = _money(item.get("max_total"), currency, f"{field}.max_total")
    if total.minor < per.minor:
        raise ValidationError("max_total is below max_per_payment", field=f"{field}.max_total")
    return ConsentRequest(
        kind,
        ("payments",),
        expires_at,
        currency=per.code,
        creditor_account_id=creditor,
        max_per_payment_minor=per.minor,
        max_total_minor=total.minor,
        beneficiary=beneficiary,
    )


def _beneficiary(value: Any) -> dict[str, Any]:
    """The beneficiary's shape (payments' desk checks the IBAN, BIC and character set when the
    payment is sent): a name, a two-letter country, a BIC and one of IBAN or account."""
    field = "authorization_details.beneficiary"
    if not isinstance(value, dict):
        raise ValidationError("an object with name, country, bic and iban or account", field=field)
    found: dict[str, Any] = {}
    for name, limit in _BENEFICIARY_FIELDS.items():
        given = value.get(name)
        if given is not None and (not isinstance(given, str) or not 0 < len(given) <= limit):
            raise ValidationError(f"text of 1-{limit} characters", field=f"{field}.{name}")
        found[name] = given.strip().replace(" ", "") if name == "iban" and given else given
    for name in ("name", "country", "bic"):
        if not found[name]:
            raise ValidationError("required", field=f"{field}.{name}")
    if (found["iban"] is None) == (found["account"] is None):
        raise ValidationError("give an IBAN or an account number", field=f"{field}.iban")
    lines = value.get("address_lines", [])
    if not isinstance(lines, list) or len(lines) > 3 or not all(isinstance(x, str) for x in lines):
        raise ValidationError("at most 3 lines of text", field=f"{field}.address_lines")
    return found | {"address_lines": lines}


def _money(value: Any, currency: Any, field: str) -> Money:
    if not isinstance(value, str) or not isinstance(currency, str):
        raise ValidationError(
            "an amount as a decimal string and a currency are required", field=field
        )
    try:
        amount = Money.of(value, currency, field=field)
    except ValidationError as exc:
        raise ValidationError(exc.detail, field=field) from None
    if amount.minor <= 0:
        raise ValidationError("the amount must be positive", field=field)
    return amount


def _int(value: Any, field: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ValidationError(f"an integer from {low} to {high}", field=field)
    return value


def _date(value: Any, field: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value) if isinstance(value, str) else _bad(field)
    except ValueError:
        return _bad(field)


def _bad(field: str) -> date:
    raise ValidationError("a date YYYY-MM-DD", field=field)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def effective_status(row: ConsentRow, now: datetime) -> ConsentStatus:
    """The stored status, or ``expired`` once a live consent's expiry has passed."""
    status = ConsentStatus(row.status)
    live = status in (ConsentStatus.AWAITING_AUTHORISATION, ConsentStatus.AUTHORISED)
    return ConsentStatus.EXPIRED if live and aware(row.expires_at) <= now else status
