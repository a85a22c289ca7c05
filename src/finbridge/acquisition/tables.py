"""Acquisition tables: profiles, creatives, campaigns, opt-outs and deliveries."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from finbridge.store.metadata import Base


class ProfileRow(Base):
    """A customer's marketing profile as of ``as_of`` (only events before it), kept only while
    the customer's marketing consent holds."""

    __tablename__ = "acquisition_profiles"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    as_of: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    timezone: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    # 168 decayed weights by local hour of the week (float32, little-endian) and, per hour of
    # the day, the earliest minute seen (int8, -1 never): binary so 100,000 load in one go.
    engagement: Mapped[bytes] = mapped_column(LargeBinary)
    first_minute: Mapped[bytes] = mapped_column(LargeBinary)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)  # decayed weight per event kind
    topics: Mapped[dict[str, Any]] = mapped_column(JSON)  # decayed interest per topic
    # Spending RFM per currency ({currency: {last_spend, frequency, monetary}}) as of
    # ``spending_as_of`` (the last refresh: the stream moves ``as_of`` but adds no spend).
    spending: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    spending_as_of: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CreativeRow(Base):
    __tablename__ = "acquisition_creatives"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    templates: Mapped[dict[str, Any]] = mapped_column(JSON)  # locale -> {title, body}
    fields: Mapped[list[str]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("name", "version"),)


class CampaignRow(Base):
    __tablename__ = "acquisition_campaigns"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    audience: Mapped[str] = mapped_column(Text)
    offer_code: Mapped[str | None] = mapped_column(String(40))
    creative_name: Mapped[str] = mapped_column(String(80))
    creative_version: Mapped[int] = mapped_column(Integer)
    schedule: Mapped[dict[str, Any]] = mapped_column(JSON)  # kind, at, lead_minutes
    quiet_start: Mapped[str] = mapped_column(String(5))
    quiet_end: Mapped[str] = mapped_column(String(5))
    cap_per_day: Mapped[int] = mapped_column(Integer)
    cap_per_week: Mapped[int] = mapped_column(Integer)
    holdout_share: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OptOutRow(Base):
    __tablename__ = "acquisition_opt_outs"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(36), primary_key=True)  # "*" = every campaign
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PreferenceRow(Base):
    """A customer's own contact preferences: the time zone their quiet hours and send times
    are read in (absent: the business time zone). Kept without marketing consent, since it is
    the customer's setting, not data about them."""

    __tablename__ = "acquisition_preferences"

    customer_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    timezone: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class DeliveryRow(Base):
    """One customer in one campaign on one local day: sent (treatment) or held out."""

    __tablename__ = "acquisition_deliveries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(36))
    customer_id: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    arm: Mapped[str] = mapped_column(String(10))  # treatment | holdout
    status: Mapped[str] = mapped_column(String(12))  # scheduled | delivered | suppressed | holdout
    reason: Mapped[str | None] = mapped_column(String(200))
    scheduled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    title: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    converted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("campaign_id", "customer_id", "day"),
        Index("ix_acquisition_deliveries_due", "status", "scheduled_at"),
        Index("ix_acquisition_deliveries_customer", "customer_id", "scheduled_at"),
    )
