"""Datetimes read back from the database: SQLite returns naive UTC, PostgreSQL aware values."""

from __future__ import annotations

from datetime import UTC, datetime


def aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def aware_or_none(at: datetime | None) -> datetime | None:
    return None if at is None else aware(at)
