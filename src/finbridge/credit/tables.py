"""Credit tables: the model registry and the record of every score given."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from finbridge.store.metadata import Base


class ModelVersionRow(Base):
    """One trained model version: the artifact, what it was trained on and how well it did."""

    __tablename__ = "credit_model_versions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model_name: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # candidate | live | retired
    is_live: Mapped[bool] = mapped_column(Boolean, default=False)
    artifact: Mapped[bytes] = mapped_column(LargeBinary)
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    data_fingerprint: Mapped[str] = mapped_column(String(64))
    n_train: Mapped[int] = mapped_column(Integer)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    features: Mapped[list[str]] = mapped_column(JSON)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    trained_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("model_name", "version"),
        # At most one live version per model name, enforced by the database itself.
        Index(
            "uq_credit_model_versions_live",
            "model_name",
            unique=True,
            sqlite_where=text("is_live"),
            postgresql_where=text("is_live"),
        ),
    )


class ScoreRow(Base):
    """Every score handed out, with the exact model version that produced it."""

    __tablename__ = "credit_scores"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    model_version_id: Mapped[str] = mapped_column(ForeignKey("credit_model_versions.id"))
    model_name: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[str | None] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    probability_bad: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    mode: Mapped[str] = mapped_column(String(16))  # single | joint | bank_only
    decided_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_credit_scores_customer", "customer_id", "created_at"),)
