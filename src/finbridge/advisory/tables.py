"""Advisory tables: risk profiles, suitability evidence, fund orders and holdings."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from finbridge.store.metadata import Base


class ProfileRow(Base):
    """One completed questionnaire; the newest per customer is the live profile."""

    __tablename__ = "advisory_profiles"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    questionnaire_version: Mapped[str] = mapped_column(String(32))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON)
    score: Mapped[int] = mapped_column(Integer)
    score_category: Mapped[str] = mapped_column(String(2))
    category: Mapped[str] = mapped_column(String(2))
    caps: Mapped[list[str]] = mapped_column(JSON)
    actor_id: Mapped[str] = mapped_column(String(64))
    assessed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_advisory_profiles_customer_assessed", "customer_id", "assessed_at"),
        CheckConstraint("category IN ('C1','C2','C3','C4','C5')", name="category"),
    )


class SuitabilityRow(Base):
    """Evidence of one suitability check: who, which product, the levels, the outcome, and for
    an above-level purchase the warning shown, the confirmation and the second factor."""

    __tablename__ = "advisory_suitability_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    product_code: Mapped[str] = mapped_column(String(32))
    product_level: Mapped[str] = mapped_column(String(2))
    profile_id: Mapped[str | None] = mapped_column(String(36))
    category: Mapped[str | None] = mapped_column(String(2))
    outcome: Mapped[str] = mapped_column(String(32))
    allowed: Mapped[bool] = mapped_column(Boolean)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    warning_code: Mapped[str | None] = mapped_column(String(32))
    warning_text: Mapped[str | None] = mapped_column(Text)
    confirmed: Mapped[bool] = mapped_column(Boolean)
    second_factor: Mapped[bool] = mapped_column(Boolean)
    channel: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_advisory_suitability_customer_created", "customer_id", "created_at"),
    )


class OrderRow(Base):
    """A subscription or redemption: cash moves at order, units at the NAV after the lag."""

    __tablename__ = "advisory_orders"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    account_id: Mapped[str] = mapped_column(String(36))
    product_code: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(12))  # subscribe | redeem
    status: Mapped[str] = mapped_column(String(12))  # pending | settled
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    units: Mapped[Decimal | None] = mapped_column(Numeric(24, 8))
    nav: Mapped[Decimal | None] = mapped_column(Numeric(24, 8))
    trade_date: Mapped[date] = mapped_column(Date)
    settle_date: Mapped[date] = mapped_column(Date)
    suitability_id: Mapped[str | None] = mapped_column(String(36))
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_advisory_orders_customer_created", "customer_id", "created_at"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("side IN ('subscribe','redeem')", name="side"),
    )


class HoldingRow(Base):
    """Units of one product held by one customer, with their cost basis."""

    __tablename__ = "advisory_holdings"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    product_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    units: Mapped[Decimal] = mapped_column(Numeric(24, 8))
    cost_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("units >= 0", name="units_non_negative"),)


class RebalancingChoiceRow(Base):
    """A customer's standing choice about rebalancing: automatic (the nightly job carries out a
    proposal on this account) or not. No row = proposals only, accepted by hand."""

    __tablename__ = "advisory_rebalancing_choices"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(36))
    automatic: Mapped[bool] = mapped_column(Boolean)
    actor_id: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
