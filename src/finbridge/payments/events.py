"""Payments events (the ledger's own ``transaction.posted`` comes from banking)."""

from __future__ import annotations

from finbridge.lake.events import EventPayload, register_schema

SOURCE = "payments"


@register_schema("payments.fx_converted", 1)
class FxConvertedV1(EventPayload):
    quote_id: str
    entry_id: str
    customer_id: str
    sell_amount: str
    sell_currency: str
    fee: str
    buy_amount: str
    buy_currency: str
    rate: str
    reference_rate: str


@register_schema("payments.payment_completed", 1)
class PaymentCompletedV1(EventPayload):
    payment_id: str
    entry_id: str
    kind: str
    channel: str
    payer_customer_id: str
    payee_customer_id: str | None = None
    merchant_id: str | None = None
    amount: str
    currency: str
    fee: str


@register_schema("payments.refunded", 1)
class RefundedV1(EventPayload):
    refund_id: str
    payment_id: str
    entry_id: str
    amount: str
    currency: str
    fee_returned: str


@register_schema("payments.merchant_onboarded", 1)
class MerchantOnboardedV1(EventPayload):
    merchant_id: str
    name: str
    mcc: str
    customer_id: str
    fee_rate: str
