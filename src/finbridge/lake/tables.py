"""Lake tables in the operational database: the transactional outbox."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from finbridge.store.metadata import Base


class OutboxRow(Base):
    """An event written in the same transaction as the change it describes.

    The relay copies unpublished rows to the Parquet lake and marks them published, so an event
    exists if and only if its transaction committed.
    """

    __tablename__ = "lake_outbox"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Not unique in the table (lake_0005): nothing looks a row up by it, and downstream the
    # lake's view and the stream consumers keep one effect per event id.
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(64))
    schema_version: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Set when the relay refuses the row (an event type or version no schema knows): the row
    # stays in the outbox, unpublished, for an operator to see and fix; nothing is dropped.
    refused_reason: Mapped[str | None] = mapped_column(String(512))

    # The relay's queue: the rows still to publish, in seq order (lake_0005).
    __table_args__ = (
        Index(
            "ix_lake_outbox_unpublished",
            "seq",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )


class StreamAppliedRow(Base):
    """One event whose effect a stream consumer stored: the ledger that makes at-least-once
    delivery an exactly-once effect (written in the same transaction as the effect)."""

    __tablename__ = "lake_stream_applied"

    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class IngestionRow(Base):
    """One partner file ingested into the lake: counts, file hash and the rejection report.

    ``(source, file_hash)`` is unique, so uploading the same file again finds this row and
    returns its report instead of ingesting twice.
    """

    __tablename__ = "lake_ingestions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    format: Mapped[str] = mapped_column(String(16))
    file_hash: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column()
    total_rows: Mapped[int] = mapped_column()
    accepted_rows: Mapped[int] = mapped_column()
    rejected_rows: Mapped[int] = mapped_column()
    rejections: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]  # the first N
    rejection_counts: Mapped[dict | None] = mapped_column(JSON)  # type: ignore[type-arg]
    actor_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("source", "file_hash"),
        Index("ix_lake_ingestions_created_at", "created_at"),
    )
