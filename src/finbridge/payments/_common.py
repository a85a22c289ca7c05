"""What the payments modules share: who may act for whom, amounts, the platform principal."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TypeVar

from sqlalchemy import Engine

from finbridge.core.errors import BusinessRuleViolation, NotFound, ValidationError
from finbridge.core.ids import is_valid_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.store.engine import unit_of_work

_Row = TypeVar("_Row")

# Payments posts through banking as the platform itself (the bank's own FX position and fee
# accounts are only open to it), passing the customer as ``requested_by`` so the posting guard
# (risk and step-up) still sees who asked.
PLATFORM = Principal.system("payments")
WALLET_CURRENCIES: tuple[str, ...] = ("CNY", "USD", "HKD", "EUR", "GBP", "JPY")


def scoped_key(actor: Principal, key: object) -> str:
    """A client's idempotency key, scoped to that client (the same key from two clients is two
    requests)."""
    if not isinstance(key, str) or not key.strip() or len(key) > 200:
        raise ValidationError(
            "an idempotency key of 1-200 characters is required", field="idempotency_key"
        )
    return f"{actor.kind.value}:{actor.id}:{key}"


def request_fingerprint(*parts: object) -> str:
    """A stable hash of a request, to tell a retry from a different request under one key."""
    blob = json.dumps(parts, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def load_row(engine: Engine, model: type[_Row], row_id: object, what: str, field: str) -> _Row:
    """The row ``row_id`` of ``model``, or ``NotFound`` naming ``field`` (a malformed id is
    reported the same way as an unknown one)."""
    if not isinstance(row_id, str) or not is_valid_id(row_id):
        raise NotFound(f"{what} {row_id!r} not found", field=field)
    with unit_of_work(engine, write=False) as s:
        row = s.get(model, row_id)
    if row is None:
        raise NotFound(f"{what} {row_id} not found", field=field)
    return row


def is_customer(actor: Principal) -> bool:
    return actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY)


def act_for(actor: Principal, customer_id: str, scope: str = "payments:write") -> None:
    """Customers act for themselves (others' objects are "not found"); operators by scope."""
    if is_customer(actor):
        actor.require_scope("transfers:write")
        if not actor.can_act_for(customer_id):
            raise NotFound(f"customer {customer_id} not found", field="customer_id")
        return
    actor.require_scope(scope)


def read_for(actor: Principal, customer_id: str | None) -> None:
    if is_customer(actor):
        if customer_id is None or not actor.can_act_for(customer_id):
            raise NotFound("not found")
        return
    actor.require_scope("payments:read")


def operator_only(actor: Principal, scope: str) -> None:
    if is_customer(actor):
        raise NotFound("not found")
    actor.require_scope(scope)


def positive_money(amount: object, field: str = "amount") -> Money:
    if not isinstance(amount, Money):
        raise ValidationError("amount must be Money (decimal amount + currency)", field=field)
    if not amount.is_positive():
        raise ValidationError("amount must be greater than zero", field=field)
    return amount


def share(amount: Money, rate: Decimal) -> Money:
    """``amount`` x ``rate`` rounded half-even to the currency's minor unit (fees)."""
    return Money.rounded(amount.amount * rate, amount.code, ROUND_HALF_EVEN)


def aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC.
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def clean_text(value: object, field: str, limit: int = 140) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(f"must be text of at most {limit} characters", field=field)
    if any(ord(ch) < 32 for ch in value):
        raise ValidationError("control characters are not allowed", field=field)
    return value.strip()


def not_a_credit_line(floor: Money, field: str) -> None:
    """Refuse a credit line as the source of a payment lending does not book: a line is a
    banking account floored below zero, and what moves on it must be booked by lending
    (statements, interest). Merchant payments reach lines through lending's purchase flow
    (``payments.lines``); P2P and transfers abroad from a line (cash) are not offered."""
    if floor.minor < 0:
        raise BusinessRuleViolation(
            "a credit line cannot pay here: pay from a deposit account", field=field
        )
