"""Event lake wire schemas: stored events, ingestion reports and their rejections."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from finbridge.lake import IngestReport, StoredEvent


class EventPublic(BaseModel):
    event_id: str
    event_type: str
    schema_version: int
    occurred_at: datetime
    subject_id: str | None
    source: str
    payload: dict[str, Any]

    @classmethod
    def of(cls, e: StoredEvent) -> EventPublic:
        return cls(**e.to_dict())


class RejectionPublic(BaseModel):
    row: int
    field: str
    reason: str
    row_id: str | None


class IngestionPublic(BaseModel):
    id: str
    source: str
    filename: str | None
    format: str
    file_hash: str
    size_bytes: int
    total: int
    accepted: int
    rejected: int
    replayed: bool
    created_at: datetime
    rejections: list[RejectionPublic]  # the first 100 in full
    rejection_counts: dict[str, int] = {}  # rejected rows by field, all of them
    # Why the accepted rows went to the lake's quarantine (a failed batch check), if they did.
    quarantined: list[str] = []

    @classmethod
    def of(cls, r: IngestReport, *, with_rejections: bool = True) -> IngestionPublic:
        data = r.to_dict()
        if not with_rejections:
            data["rejections"] = []
        return cls(**data)
