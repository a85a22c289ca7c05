"""Payload schemas of the events banking publishes through the outbox.

Amounts are decimal strings with their currency, never JSON numbers.
"""

from __future__ import annotations

from finbridge.lake.events import EventPayload, register_schema

SOURCE = "banking"


@register_schema("customer.created", 1)
class CustomerCreated(EventPayload):
    customer_id: str
    kind: str
    status: str


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
