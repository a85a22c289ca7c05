"""Payload schemas of the events banking publishes through the outbox, and their builders.

Amounts are decimal strings with their currency, never JSON numbers. ``transaction.posted`` is
built by :func:`transaction_posted` on every posting path (single, batch, interest, capture).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finbridge.banking.models import PostingResult
from finbridge.lake.events import Event, EventPayload, register_schema

SOURCE = "banking"


@register_schema("customer.created", 1)
class CustomerCreated(EventPayload):
    customer_id: str
    kind: str
    status: str


@register_schema("customer.closed", 1)
class CustomerClosed(EventPayload):
    customer_id: str
    reason: str


@register_schema("account.opened", 1)
class AccountOpened(EventPayload):
    account_id: str
    customer_id: str | None
    kind: str
    currency: str


@register_schema("account.status_changed", 1)
class AccountStatusChanged(EventPayload):
    account_id: str
    customer_id: str | None
    old_status: str
    new_status: str
    reason: str = ""


@register_schema("transaction.posted", 1)
class TransactionPosted(EventPayload):
    entry_id: str
    kind: str
    amount: str
    currency: str
    from_account_id: str
    to_account_id: str
    from_customer_id: str | None = None
    to_customer_id: str | None = None
    description: str = ""
    channel: str | None = None
    merchant: str | None = None


@register_schema("hold.placed", 1)
class HoldPlaced(EventPayload):
    hold_id: str
    account_id: str
    customer_id: str | None
    amount: str
    currency: str
    expires_at: str | None = None


@register_schema("hold.captured", 1)
class HoldCaptured(EventPayload):
    hold_id: str
    account_id: str
    entry_id: str
    amount: str
    currency: str
    to_account_id: str


@register_schema("hold.released", 1)
class HoldReleased(EventPayload):
    hold_id: str
    account_id: str
    amount: str
    currency: str
    reason: str  # released | expired


def transaction_posted(
    result: PostingResult,
    *,
    from_customer_id: str | None,
    to_customer_id: str | None,
    channel: str | None,
    metadata: Mapping[str, Any] | None = None,
) -> Event:
    """The ``transaction.posted`` event of a posted entry (validated by the outbox on emit)."""
    merchant = (metadata or {}).get("merchant")
    payload = {
        "entry_id": result.entry_id,
        "kind": result.kind.value,
        "amount": str(result.amount.amount),
        "currency": result.amount.code,
        "from_account_id": result.from_account_id,
        "to_account_id": result.to_account_id,
        "from_customer_id": from_customer_id,
        "to_customer_id": to_customer_id,
        "description": result.description,
        "channel": channel,
        "merchant": None if merchant is None else str(merchant),
    }
    return Event(
        "transaction.posted",
        result.created_at,
        payload,
        SOURCE,
        subject_id=from_customer_id or to_customer_id,
    )
