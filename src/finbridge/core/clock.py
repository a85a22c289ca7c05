"""The injectable clock: the only place that reads the wall clock.

Code asks a :class:`Clock` for the time so tests, replays and backtests can run at any instant.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

UTC = UTC


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware current instant in UTC."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to; for tests, replays and simulations."""

    def __init__(self, start: datetime) -> None:
        self._now = ensure_aware(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, instant: datetime) -> None:
        with self._lock:
            self._now = ensure_aware(instant)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now = self._now + delta
            return self._now


def ensure_aware(instant: datetime) -> datetime:
    """Return ``instant`` in UTC; naive datetimes are refused rather than guessed."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("naive datetime: finbridge needs timezone-aware instants")
    return instant.astimezone(UTC)


def business_date(instant: datetime, tz: str = "Asia/Shanghai") -> date:
    """The calendar date of ``instant`` in the business time zone (statements, accruals)."""
    return ensure_aware(instant).astimezone(ZoneInfo(tz)).date()
