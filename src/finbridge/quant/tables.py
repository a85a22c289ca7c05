"""Quant tables: one row per backtest run, with its config, summary and tear sheet."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from finbridge.store.metadata import Base


class QuantRunRow(Base):
    __tablename__ = "quant_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner_id: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))  # succeeded | failed
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    tearsheet_html: Mapped[str | None] = mapped_column(Text)
    final_equity_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_quant_runs_owner_created", "owner_id", "created_at"),)
