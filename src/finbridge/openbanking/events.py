"""Open banking events: consent status changes and payments apps initiate."""

from __future__ import annotations

from finbridge.lake.events import EventPayload, register_schema


@register_schema("openbanking.consent_changed", 1)
class ConsentChangedV1(EventPayload):
    """A consent moved to a new status (authorised, rejected, consumed, revoked, expired)."""

    consent_id: str
    client_id: str
    kind: str
    status: str


@register_schema("openbanking.payment_initiated", 1)
class PaymentInitiatedV1(EventPayload):
    """An app initiated a payment under a payment consent; ``status`` is its outcome."""

    payment_id: str
    consent_id: str
    client_id: str
    amount: str
    currency: str
    status: str
