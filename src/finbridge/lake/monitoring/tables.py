"""The monitoring table: one row per model, version and business day a monitor ran."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from finbridge.store.metadata import Base


class MonitorRunRow(Base):
    """Drift (PSI/CSI) and label-delayed performance of one live model on one day.

    ``(engine, model, version, day)`` is unique: running a day's monitor again replaces its
    figures (labels that arrived since change the performance), never adds a second row."""

    __tablename__ = "monitoring_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    engine: Mapped[str] = mapped_column(String(16))  # risk, credit
    model: Mapped[str] = mapped_column(String(80))
    version: Mapped[str] = mapped_column(String(100))
    day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(24))  # stable, alert, retrain, no_traffic
    n_current: Mapped[int] = mapped_column(Integer)
    n_reference: Mapped[int] = mapped_column(Integer)
    score_psi: Mapped[float | None] = mapped_column(Float)
    feature_psi: Mapped[dict[str, Any]] = mapped_column(JSON)
    performance: Mapped[dict[str, Any]] = mapped_column(JSON)
    alerts: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("engine", "model", "version", "day", name="uq_monitoring_runs_model_day"),
    )
