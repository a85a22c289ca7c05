"""Input checks and row mappers shared by the service's concept modules."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import RowMapping

from finbridge.banking.ledger import fingerprint
from finbridge.banking.models import (
    Account,
    AccountKind,
    AccountStatus,
    Customer,
    CustomerKind,
    Hold,
    HoldStatus,
    PostingResult,
)
from finbridge.banking.tables import LEDGER_CURRENCIES
from finbridge.core.errors import NotFound, ValidationError
from finbridge.core.ids import is_valid_id
from finbridge.core.money import Money, within_bounds
from finbridge.core.principal import Principal, PrincipalKind

_E = TypeVar("_E", bound=Enum)

MAX_KEY_LENGTH = 200
MAX_DESCRIPTION = 500
MAX_PAGE = 200


def is_customer(actor: Principal) -> bool:
    return actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY)


def owner_of(actor: Principal) -> str | None:
    """The customer whose objects ``actor`` is confined to, or None for operators/system."""
    return actor.customer_id if is_customer(actor) else None


def scoped(actor: Principal, key: str) -> str:
    """Idempotency keys belong to the client that chose them."""
    return f"{actor.kind.value}:{actor.id}:{key}"


def positive(amount: Money, field: str = "amount") -> Money:
    if not isinstance(amount, Money):
        raise ValidationError("amount must be Money (decimal amount + currency)", field=field)
    if amount.currency.code not in LEDGER_CURRENCIES:
        raise ValidationError(f"{amount.code} is not held by this ledger", field="currency")
    if not amount.is_positive():
        raise ValidationError("amount must be greater than zero", field=field)
    return within_bounds(amount, field)


def valid_key(key: str | None) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValidationError("an idempotency key is required", field="idempotency_key")
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"idempotency key longer than {MAX_KEY_LENGTH} characters", field="idempotency_key"
        )
    return key


def text(value: str, field: str, limit: int = MAX_DESCRIPTION) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(f"must be text of at most {limit} characters", field=field)
    return value


# The form every stored id has (core.ids.new_id): checked by one regex match, where building a
# uuid.UUID cost ~2.5 us per id on the transfer path; other forms take the full parse.
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z").match


def valid_account_id(value: str, field: str = "account_id") -> str:
    # A malformed id cannot exist: report it the same way as an unknown one.
    if isinstance(value, str) and _CANONICAL_ID(value):
        return value
    if not isinstance(value, str) or not is_valid_id(value):
        raise NotFound(f"account {value!r} not found", field=field)
    return value


def page_limit(limit: int) -> int:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    return limit


def enum_value(cls: type[_E], value: Any, field: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(v.value) for v in cls)
        raise ValidationError(f"must be one of: {allowed}", field=field) from None


def valid_rate(value: Decimal | str | None, kind: AccountKind) -> Decimal | None:
    if value is None:
        return None
    if kind is not AccountKind.SAVINGS:
        raise ValidationError("only savings accounts earn interest", field="interest_rate")
    if isinstance(value, float) or not isinstance(value, (Decimal, str)):
        raise ValidationError("rate must be a decimal string", field="interest_rate")
    try:
        rate = Decimal(value)
    except ArithmeticError:
        raise ValidationError("rate must be a decimal", field="interest_rate") from None
    if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):
        raise ValidationError("annual rate must be between 0 and 1", field="interest_rate")
    if -rate.as_tuple().exponent > 6:  # type: ignore[operator]
        raise ValidationError("at most 6 decimal places", field="interest_rate")
    return rate


def aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC.
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def customer_from(row: RowMapping) -> Customer:
    return Customer(
        id=row["id"],
        kind=CustomerKind(row["kind"]),
        display_name=row["display_name"],
        status=row["status"],
        created_at=aware(row["created_at"]),
        external_ref=row["external_ref"],
    )


def account_from(row: RowMapping) -> Account:
    cur = row["currency"]
    return Account(
        id=row["id"],
        customer_id=row["customer_id"],
        kind=AccountKind(row["kind"]),
        currency=cur,
        status=AccountStatus(row["status"]),
        balance=Money.from_minor(int(row["balance_minor"]), cur),
        held=Money.from_minor(int(row["held_minor"]), cur),
        floor=Money.from_minor(int(row["floor_minor"]), cur),
        created_at=aware(row["created_at"]),
        interest_rate=None if row["interest_rate"] is None else Decimal(row["interest_rate"]),
        internal_code=row["internal_code"],
    )


def hold_from(row: RowMapping, *, replayed: bool = False) -> Hold:
    return Hold(
        id=row["id"],
        account_id=row["account_id"],
        amount=Money.from_minor(int(row["amount_minor"]), row["currency"]),
        status=HoldStatus(row["status"]),
        created_at=aware(row["created_at"]),
        expires_at=None if row["expires_at"] is None else aware(row["expires_at"]),
        description=row["description"],
        capture_entry_id=row["capture_entry_id"],
        replayed=replayed,
    )


_IN_CHUNK = 500  # bound parameters per IN (...) list, well inside every backend's limit


def in_chunks(values: Sequence[Any], size: int = _IN_CHUNK) -> list[Sequence[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def result_fingerprint(result: PostingResult) -> str:
    """The request fingerprint of a batch-posted entry (batches have no request of their own)."""
    return fingerprint(
        result.kind.value,
        result.from_account_id,
        result.to_account_id,
        result.amount.minor,
        result.amount.code,
        result.description,
    )
