"""Risk tables: rule sets (versioned), lists, decisions (live and shadow), cases and notes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from finbridge.store.metadata import Base


class RuleSetRow(Base):
    """One version of a named rule set. Status: draft, shadow, active, retired."""

    __tablename__ = "risk_rule_sets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    body: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    promoted_by: Mapped[str | None] = mapped_column(String(64))
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("uq_risk_rule_sets_name_version", "name", "version", unique=True),
        Index("ix_risk_rule_sets_status", "status"),
    )


class ListEntryRow(Base):
    """A block/allow/watch list entry for one entity, with provenance and optional expiry."""

    __tablename__ = "risk_list_entries"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    list_kind: Mapped[str] = mapped_column(String(8))  # block, allow, watch
    entity_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(120))  # provenance: case id, feed, analyst...
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_risk_list_entries_lookup", "entity_type", "value"),)


class DecisionRow(Base):
    """Every decision the engine made, live (enforced) or shadow (stored only)."""

    __tablename__ = "risk_decisions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(8))  # live, shadow
    event_type: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    ml_score: Mapped[float | None] = mapped_column(Float)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    rule_set: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[str] = mapped_column(String(100))
    fired: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]
    reasons: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]
    degraded: Mapped[str | None] = mapped_column(Text)  # why a safe fallback decided
    request: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]  # for replays
    # A decision taken for a ledger posting is kept whatever the posting's fate; when banking
    # settles it we record that fate: "posted" or "failed" (with the reason), else NULL.
    posting_outcome: Mapped[str | None] = mapped_column(String(8))
    posting_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("uq_risk_decisions_event_mode", "event_id", "mode", unique=True),
        Index("ix_risk_decisions_customer", "customer_id", "occurred_at"),
        Index("ix_risk_decisions_decided", "decided_at"),
    )


class CaseRow(Base):
    """A review case: queue -> assigned -> closed with a decision and a fraud label."""

    __tablename__ = "risk_cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # Empty for a case another engine opened (``origin``): it has no decision behind it.
    decision_id: Mapped[str | None] = mapped_column(String(36))
    event_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # open, assigned, closed
    priority: Mapped[int] = mapped_column(Integer)
    assignee: Mapped[str | None] = mapped_column(String(64))
    opened_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sla_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(String(16))  # confirm, release
    label: Mapped[str | None] = mapped_column(String(16))  # fraud, not_fraud
    # "decision" (the engine's own review) or the engine that opened it ("payments.screening"),
    # what it is about there and why, in words.
    origin: Mapped[str] = mapped_column(String(32), default="decision", server_default="decision")
    subject_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str | None] = mapped_column(String(300))

    __table_args__ = (
        Index("ix_risk_cases_queue", "status", "sla_due_at"),
        Index("ix_risk_cases_subject", "origin", "subject_id"),
    )


class CaseNoteRow(Base):
    __tablename__ = "risk_case_notes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36))
    author: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_risk_case_notes_case", "case_id", "created_at"),)
