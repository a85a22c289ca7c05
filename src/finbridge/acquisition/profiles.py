"""Customer profiles from the lake: engagement by local hour of the week, interests, counts.

A profile *as of* t sees only events with ``occurred_at < t``. Every quantity is an
exponentially decayed sum (half-life :data:`~finbridge.acquisition.sendtime.HALF_LIFE_DAYS`),
so moving a stored profile from t0 to t1 is exact and incremental: multiply what was stored by
``2 ** -((t1 - t0) / half_life)`` and add the events of ``[t0, t1)`` weighted at t1. The sums are
Ibis expressions over the lake's events (:mod:`.engagement`: DuckDB here, Spark at scale); the
placing in each customer's local hours is Polars/NumPy.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from finbridge.acquisition.catalog import topics_of
from finbridge.acquisition.engagement import KINDS, Sums, sums_of_events
from finbridge.acquisition.sendtime import HALF_LIFE_DAYS, KIND_WEIGHTS, SLOTS, slot_of
from finbridge.lake import Event

COUNT_NAMES = {
    "app.opened": "app_opens",
    "news.read": "news_reads",
    "acquisition.opened": "notification_opens",
}


@dataclass
class ProfileState:
    """The decayed sums of one customer at ``as_of``."""

    as_of: datetime
    timezone: str
    locale: str = "zh-CN"
    engagement: np.ndarray = field(default_factory=lambda: np.zeros(SLOTS))
    first_minute: list[int] = field(default_factory=lambda: [-1] * 24)
    counts: dict[str, float] = field(default_factory=dict)
    topics: dict[str, float] = field(default_factory=dict)

    def advanced(self, as_of: datetime) -> ProfileState:
        """The same profile seen later: every sum decays, nothing is added."""
        factor = 2.0 ** (-(as_of - self.as_of).total_seconds() / 86_400.0 / HALF_LIFE_DAYS)
        return ProfileState(
            as_of,
            self.timezone,
            self.locale,
            self.engagement * factor,
            list(self.first_minute),
            {k: v * factor for k, v in self.counts.items()},
            {k: v * factor for k, v in self.topics.items()},
        )

    def merged(self, other: ProfileState) -> ProfileState:
        """Add ``other`` (same ``as_of``) to this profile."""
        minutes = [
            min(m for m in (a, b) if m >= 0) if max(a, b) >= 0 else -1
            for a, b in zip(self.first_minute, other.first_minute, strict=True)
        ]
        return ProfileState(
            self.as_of,
            self.timezone,
            self.locale,
            self.engagement + other.engagement,
            minutes,
            _add(self.counts, other.counts),
            _add(self.topics, other.topics),
        )

    # -- what audience rules and offers read ------------------------------------------------

    def fields(self) -> dict[str, Any]:
        daily = self.engagement.reshape(7, 24).sum(axis=0)
        topic = max(self.topics, key=lambda k: self.topics[k]) if self.topics else ""
        out: dict[str, Any] = {
            name: round(self.counts.get(kind, 0.0), 4) for kind, name in COUNT_NAMES.items()
        }
        out.update(
            engagement=round(float(self.engagement.sum()), 4),
            top_topic=topic,
            best_hour=float(daily.argmax()) if daily.sum() > 0 else -1.0,
            locale=self.locale,
            channel_preference=_channel(self.counts),
        )
        return out


# Where a customer engages most (decayed counts, so as of the profile's instant): the app
# itself, the news feed, or the messages we send; "none" before any engagement.
CHANNELS = {"app.opened": "app", "news.read": "news", "acquisition.opened": "messages"}


def _channel(counts: dict[str, float]) -> str:
    seen = {name: counts.get(kind, 0.0) for kind, name in CHANNELS.items()}
    best = max(seen, key=lambda name: seen[name])
    return best if seen[best] > 0 else "none"


def _add(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + v
    return out


def states_from_sums(
    sums: Sums, as_of: datetime, timezone: str, members: Collection[str] | None = None
) -> dict[str, ProfileState]:
    """One :class:`ProfileState` per customer (of ``members``, default all) from the engine's
    aggregates (:mod:`.engagement`), placed in ``timezone``'s local hours of the week."""
    import polars as pl

    buckets, news = sums.buckets, sums.news
    if members is not None:
        wanted = pl.Series(list(members), dtype=pl.String)
        buckets = buckets.filter(pl.col("subject_id").is_in(wanted))
        news = news.filter(pl.col("subject_id").is_in(wanted))
    if buckets.height == 0:
        return {}
    first = pl.col("first")
    if buckets.schema["first"].time_zone is None:  # type: ignore[attr-defined]
        first = first.dt.replace_time_zone("UTC")
    frame = buckets.with_columns(
        local=pl.from_epoch("bucket", time_unit="s")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone(timezone)
        .dt.replace_time_zone(None),
        minute=first.dt.convert_time_zone(timezone).dt.minute(),
        kind_weight=pl.col("event_type").replace_strict(KIND_WEIGHTS, default=0.0),
    ).with_columns(
        hour=pl.col("local").dt.hour(),
        weight=pl.col("decay") * pl.col("kind_weight"),
    )
    local_s = frame["local"].dt.epoch("s").to_numpy()
    frame = frame.with_columns(slot=pl.Series(slot_of(local_s).astype(np.int64)))
    states: dict[str, ProfileState] = {}

    def state(subject: str) -> ProfileState:
        if subject not in states:
            states[subject] = ProfileState(as_of, timezone)
        return states[subject]

    for subject, slot, weight in (
        frame.group_by("subject_id", "slot").agg(pl.col("weight").sum()).iter_rows()
    ):
        state(subject).engagement[slot] += weight
    for subject, hour, minute in (
        frame.group_by("subject_id", "hour").agg(pl.col("minute").min()).iter_rows()
    ):
        state(subject).first_minute[hour] = int(minute)
    for subject, kind, decay in (
        frame.group_by("subject_id", "event_type").agg(pl.col("decay").sum()).iter_rows()
    ):
        state(subject).counts[kind] = float(decay)
    for subject, title, category, decay in news.select(
        "subject_id", "title", "category", "decay"
    ).iter_rows():
        names = set(topics_of(title or ""))
        if category:
            names.add(category.lower())
        for name in names:
            topics = state(subject).topics
            topics[name] = topics.get(name, 0.0) + decay
    return states


def merge_into(
    stored: dict[str, ProfileState], fresh: dict[str, ProfileState], as_of: datetime
) -> dict[str, ProfileState]:
    """Stored profiles advanced to ``as_of`` plus the fresh events' sums."""
    out: dict[str, ProfileState] = {}
    for subject in stored.keys() | fresh.keys():
        old = stored.get(subject)
        new = fresh.get(subject)
        if old is None:
            assert new is not None
            out[subject] = new
            continue
        moved = old.advanced(as_of)
        out[subject] = moved.merged(new) if new is not None else moved
    return out


def observed(state: ProfileState, subject: str, events: Sequence[Event]) -> ProfileState | None:
    """``state`` with the engagement ``events`` of ``subject`` it has not seen, or None.

    A profile as of t has seen every event before t, so only events at or after its ``as_of``
    are added, and the profile moves to just after the latest one (exact: decayed sums). An
    event before ``as_of`` is left out: a refresh that read the lake up to ``as_of`` counted it
    (the lake writer consumes the same stream), and counting it here would double it."""
    from datetime import timedelta

    newer = [
        e
        for e in events
        if e.subject_id == subject and e.event_type in KINDS and e.occurred_at >= state.as_of
    ]
    if not newer:
        return None
    as_of = max(state.as_of, max(e.occurred_at for e in newer) + timedelta(microseconds=1))
    fresh = states_from_sums(sums_of_events(newer, as_of), as_of, state.timezone)
    return merge_into({subject: state}, fresh, as_of)[subject]
