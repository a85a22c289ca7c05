"""Every stored profile as arrays: what scheduling reads for 100,000 customers at once.

Engagement vectors are stored as packed float32 (and first minutes as int8), so 100,000 of them
become one customers x 168 matrix with one ``np.frombuffer`` (JSON parsing took 3.7 s for 20,000
on the shared machine), and audience rules, send times and fields are computed column-wise.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Engine, literal, select

from finbridge.acquisition.profiles import COUNT_NAMES
from finbridge.acquisition.spending import RFM_WINDOW_DAYS
from finbridge.acquisition.tables import ProfileRow
from finbridge.store.engine import unit_of_work


@dataclass(frozen=True)
class Population:
    ids: list[str]
    engagement: np.ndarray  # customers x 168
    first_minute: np.ndarray  # customers x 24 (-1: never seen in that hour)
    timezone: list[str]
    locale: np.ndarray
    counts: list[dict[str, float]]
    topics: list[dict[str, float]]
    # (spending RFM per currency, its instant) per customer: read only when a rule names it
    spending: list[tuple[dict[str, Any], datetime | None]] | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def columns(self) -> dict[str, np.ndarray]:
        """The audience fields that come from the profile (see ``ProfileState.fields``)."""
        daily = self.engagement.reshape(len(self), 7, 24).sum(axis=1)
        has = daily.sum(axis=1) > 0
        out = {
            name: np.array([c.get(kind, 0.0) for c in self.counts], dtype=np.float64)
            for kind, name in COUNT_NAMES.items()
        }
        top = [max(t, key=lambda k: t[k]) if t else "" for t in self.topics]
        out.update(
            engagement=self.engagement.sum(axis=1),
            top_topic=np.array(top, dtype=object),
            best_hour=np.where(has, daily.argmax(axis=1), -1).astype(np.float64),
            locale=self.locale,
        )
        if self.spending is not None:
            out.update(_spending_columns(self.spending))
        return out


SPENDING_FIELDS = frozenset({"spend_frequency", "spend_recency_days"})


def _spending_columns(
    spending: list[tuple[dict[str, Any], datetime | None]],
) -> dict[str, np.ndarray]:
    """Frequency over every currency; recency from the newest spend to the refresh, or the
    window's length when there was none in it (at least that long ago: ``spend_recency_days <
    7`` never selects a non-spender, ``>= 30`` counts them as lapsed)."""
    frequency = np.zeros(len(spending))
    recency = np.full(len(spending), float(RFM_WINDOW_DAYS))
    for i, (rfm, at) in enumerate(spending):
        if not rfm or at is None:
            continue
        frequency[i] = sum(int(s["frequency"]) for s in rfm.values())
        last = max(datetime.fromisoformat(s["last_spend"]) for s in rfm.values())
        when = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
        recency[i] = (when - last).total_seconds() / 86_400
    return {"spend_frequency": frequency, "spend_recency_days": recency}


WEEK = np.dtype("<f4")
MINUTE = np.dtype("i1")


def pack_week(values: np.ndarray) -> bytes:
    return np.asarray(values, dtype=WEEK).tobytes()


def unpack_week(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=WEEK).astype(np.float64)


def pack_minutes(values: list[int]) -> bytes:
    return np.asarray(values, dtype=MINUTE).tobytes()


def unpack_minutes(blob: bytes) -> list[int]:
    return [int(v) for v in np.frombuffer(blob, dtype=MINUTE)]


def _matrix(blobs: list[bytes], width: int, dtype: np.dtype[Any]) -> np.ndarray:
    if not blobs:
        return np.zeros((0, width), dtype=dtype)
    return np.frombuffer(b"".join(blobs), dtype=dtype).reshape(len(blobs), width)


def load_population(
    engine: Engine, customer_ids: Collection[str] | None = None, *, fields: Collection[str] = ()
) -> Population:
    """Profiles as arrays; the JSON columns (counts, topics) are parsed only when ``fields``
    (an audience rule's symbols) need them: 200,000 small JSON documents cost seconds."""
    counts = bool(set(fields) & set(COUNT_NAMES.values()))
    topics = "top_topic" in fields
    spending = bool(set(fields) & SPENDING_FIELDS)
    stmt = select(
        ProfileRow.customer_id,
        ProfileRow.engagement,
        ProfileRow.first_minute,
        ProfileRow.timezone,
        ProfileRow.locale,
        ProfileRow.counts if counts else literal(None),
        ProfileRow.topics if topics else literal(None),
        ProfileRow.spending if spending else literal(None),
        ProfileRow.spending_as_of if spending else literal(None),
    ).order_by(ProfileRow.customer_id)
    if customer_ids is not None:
        stmt = stmt.where(ProfileRow.customer_id.in_(list(customer_ids)))
    with unit_of_work(engine, write=False) as session:
        rows = session.execute(stmt).all()
    return Population(
        ids=[r[0] for r in rows],
        engagement=_matrix([r[1] for r in rows], 168, WEEK).astype(np.float64),
        first_minute=_matrix([r[2] for r in rows], 24, MINUTE),
        timezone=[r[3] for r in rows],
        locale=np.array([r[4] for r in rows], dtype=object),
        counts=[r[5] or {} for r in rows],
        topics=[r[6] or {} for r in rows],
        spending=[(r[7] or {}, r[8]) for r in rows] if spending else None,
    )
