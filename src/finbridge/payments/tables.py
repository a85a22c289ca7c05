"""Payments tables. Money moves only on the banking ledger; these rows record what payments
decided (quotes, merchants, payment codes, payments and refunds, limits in use) and point at
the ledger's journal entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from finbridge.store.metadata import Base


class TierRow(Base):
    """A customer's pricing tier for FX spreads (standard unless an operator set one)."""

    __tablename__ = "payments_tiers"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tier: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class QuoteRow(Base):
    """An FX quote: locked rate, fee and both amounts, valid until ``expires_at``, used once."""

    __tablename__ = "payments_quotes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    sell_currency: Mapped[str] = mapped_column(String(3))
    buy_currency: Mapped[str] = mapped_column(String(3))
    sell_minor: Mapped[int] = mapped_column(BigInteger)  # what the customer pays, fee included
    fee_minor: Mapped[int] = mapped_column(BigInteger)  # in the sell currency
    buy_minor: Mapped[int] = mapped_column(BigInteger)  # what the customer receives
    rate: Mapped[str] = mapped_column(String(32))  # bank rate: buy units per sell unit
    reference_rate: Mapped[str] = mapped_column(String(32))
    reference_date: Mapped[str] = mapped_column(String(10))
    tier: Mapped[str] = mapped_column(String(16))
    spread_bps: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # open | executing | executed
    # Each execution claims the next attempt; its journal key is fx:<id>:<attempt>, because a
    # refused key keeps its refusal for every retry (banking_refusals).
    attempt: Mapped[int] = mapped_column(Integer, server_default=text("0"), default=0)
    entry_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    executed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('open', 'executing', 'executed')", name="status"),
        CheckConstraint("sell_minor > 0 AND buy_minor > 0 AND fee_minor >= 0", name="amounts"),
        Index("ix_payments_quotes_customer", "customer_id", "created_at"),
    )


class MerchantRow(Base):
    __tablename__ = "payments_merchants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(140))
    mcc: Mapped[str] = mapped_column(String(4))  # ISO 18245 merchant category code
    customer_id: Mapped[str] = mapped_column(String(36))  # the merchant's banking customer
    settlement_account_id: Mapped[str] = mapped_column(String(36))
    currency: Mapped[str] = mapped_column(String(3))
    fee_rate: Mapped[str] = mapped_column(String(16))  # decimal string, e.g. "0.006"
    status: Mapped[str] = mapped_column(String(16))  # active | suspended
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("status IN ('active', 'suspended')", name="status"),)


class CodeRow(Base):
    """A payment code (the QR's server side): static (payer types the amount) or dynamic
    (amount fixed, expires, paid once)."""

    __tablename__ = "payments_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(8))  # static | dynamic
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str] = mapped_column(String(64), default="")  # the merchant's order id
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_id: Mapped[str | None] = mapped_column(String(36), unique=True)  # dynamic: paid by
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("kind IN ('static', 'dynamic')", name="kind"),
        CheckConstraint(
            "(kind = 'static') = (amount_minor IS NULL AND expires_at IS NULL)", name="shape"
        ),
    )


class PaymentRow(Base):
    """A merchant payment or a P2P transfer, written after its ledger entry was posted."""

    __tablename__ = "payments_payments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # merchant | p2p
    channel: Mapped[str] = mapped_column(String(16))  # qr | p2p | request
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)  # scoped to the actor
    fingerprint: Mapped[str] = mapped_column(String(64))
    payer_customer_id: Mapped[str] = mapped_column(String(36))
    payer_account_id: Mapped[str] = mapped_column(String(36))
    payee_customer_id: Mapped[str | None] = mapped_column(String(36))
    payee_account_id: Mapped[str] = mapped_column(String(36))
    merchant_id: Mapped[str | None] = mapped_column(String(36))
    code_id: Mapped[str | None] = mapped_column(String(36))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    fee_refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    limit_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # CNY counted against limits
    status: Mapped[str] = mapped_column(String(16))  # pending | completed
    entry_id: Mapped[str | None] = mapped_column(String(36))
    description: Mapped[str] = mapped_column(String(140), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Paid from a credit line: lending's purchase on the line (refunds go back onto it).
    purchase_id: Mapped[str | None] = mapped_column(String(36))

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'completed')", name="status"),
        CheckConstraint("amount_minor > 0 AND fee_minor >= 0", name="amounts"),
        # Refunds never exceed the payment, even if a bug or a raw UPDATE tried.
        CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor"
            " AND fee_refunded_minor >= 0 AND fee_refunded_minor <= fee_minor",
            name="refund_bounds",
        ),
        Index("ix_payments_payments_payer", "payer_customer_id", "created_at"),
        Index("ix_payments_payments_merchant", "merchant_id", "created_at"),
    )


class RefundRow(Base):
    __tablename__ = "payments_refunds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(36))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)  # fee the bank gives back
    status: Mapped[str] = mapped_column(String(16))  # pending | completed
    entry_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'completed')", name="status"),
        Index("ix_payments_refunds_payment", "payment_id"),
    )


class LimitUsageRow(Base):
    """What a customer spent on a channel on a business day, in CNY minor units."""

    __tablename__ = "payments_limit_usage"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    used_minor: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (CheckConstraint("used_minor >= 0", name="nonneg"),)


class MoneyRequestRow(Base):
    """A request-money link: pay ``amount`` to ``to_account_id`` before ``expires_at``, once."""

    __tablename__ = "payments_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    requester_customer_id: Mapped[str] = mapped_column(String(36))
    to_account_id: Mapped[str] = mapped_column(String(36))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str] = mapped_column(String(140), default="")
    status: Mapped[str] = mapped_column(String(16))  # open | paid
    payment_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("status IN ('open', 'paid')", name="status"),
        UniqueConstraint("payment_id", name="uq_payments_requests_payment"),
        Index("ix_payments_requests_requester", "requester_customer_id", "created_at"),
    )


class CrossBorderRow(Base):
    """An outgoing cross-border transfer: funds held on the customer's account while in flight,
    captured to the bank's clearing (nostro) account on acceptance, released on rejection,
    credited back on a return."""

    __tablename__ = "payments_crossborder"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(36))
    hold_id: Mapped[str] = mapped_column(String(36))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    end_to_end_id: Mapped[str] = mapped_column(String(35), unique=True)
    uetr: Mapped[str] = mapped_column(String(36))
    beneficiary: Mapped[dict[str, Any]] = mapped_column(JSON)
    purpose: Mapped[str | None] = mapped_column(String(4))
    remittance: Mapped[str] = mapped_column(String(140), default="")
    # screening -> ready -> sent -> settled | rejected -> (returned)
    status: Mapped[str] = mapped_column(String(16))
    screening_hit: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(140))
    message_id: Mapped[str | None] = mapped_column(String(35))
    message_xml: Mapped[str | None] = mapped_column(Text)
    entry_id: Mapped[str | None] = mapped_column(String(36))  # settlement or return entry
    quote_id: Mapped[str | None] = mapped_column(String(36))  # sent in another currency
    case_id: Mapped[str | None] = mapped_column(String(36))  # risk's case for a screening hit
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "status IN ('screening', 'ready', 'sent', 'settled', 'rejected', 'returned',"
            " 'blocked')",
            name="status",
        ),
        CheckConstraint("amount_minor > 0", name="positive"),
        Index("ix_payments_crossborder_status", "status", "created_at"),
        Index("ix_payments_crossborder_customer", "customer_id", "created_at"),
        Index("ix_payments_crossborder_case", "case_id"),
    )
