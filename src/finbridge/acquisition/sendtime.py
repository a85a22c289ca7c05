"""Send time per person: the hour of the week (168 slots) when someone engages most.

Engagement comes from the lake (``app.opened``, ``news.read``, ``acquisition.opened``), each
event weighted by kind (:data:`KIND_WEIGHTS`) and by recency (half-life :data:`HALF_LIFE_DAYS`),
counted in the person's local hour of the week. Few people have enough events to fill 168
slots, so the estimate is shrunk twice (stated, with these strengths):

    daily[h]   = (sum_d W[d, h] + A * pop_daily[h]) / (sum W + A)          A = 2 events
    week[d, h] = (W[d, h] + B * daily[h] / 7) / (sum W + B)                B = 4 events

so a person's own hour-of-day habit fills the weekdays they have not shown yet (two mornings of
news at 07:40 predict the third), and a new customer with no events gets the population's
profile (the prior). Everything is array arithmetic over customers x 168 (NumPy ``bincount``),
in blocks of customers so a million people fit in a few hundred MB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from finbridge.core.errors import ValidationError

SLOTS = 168
HALF_LIFE_DAYS = 14.0
DAILY_STRENGTH = 2.0
WEEKLY_STRENGTH = 4.0
KIND_WEIGHTS: dict[str, float] = {"app.opened": 1.0, "news.read": 1.5, "acquisition.opened": 2.0}
_BLOCK = 100_000


@dataclass(frozen=True)
class Engagement:
    """Events as columns: ``customer`` an index 0..n-1, ``local_ts`` seconds since the epoch in
    the customer's local wall time (UTC timestamp + the zone's offset), ``weight`` the kind
    weight. Rows need not be sorted."""

    customer: np.ndarray
    local_ts: np.ndarray
    weight: np.ndarray

    def __post_init__(self) -> None:
        if not (len(self.customer) == len(self.local_ts) == len(self.weight)):
            raise ValidationError("engagement columns differ in length", field="events")


def slot_of(local_ts: np.ndarray) -> np.ndarray:
    """Hour of the week, Monday 00:00 = 0 (1970-01-01 was a Thursday: day index 3)."""
    days = local_ts // 86_400
    return ((days + 3) % 7) * 24 + (local_ts % 86_400) // 3_600


def decayed_weights(events: Engagement, as_of_local: int) -> np.ndarray:
    """Kind weight x recency decay; events at or after ``as_of`` count for nothing."""
    age_days = (as_of_local - events.local_ts) / 86_400.0
    decay = np.exp2(-age_days / HALF_LIFE_DAYS)
    return np.where(age_days > 0, events.weight * decay, 0.0)


def slot_matrix(customer: np.ndarray, slot: np.ndarray, weight: np.ndarray, n: int) -> np.ndarray:
    """Customers x 168 sums of weights (float32)."""
    flat = np.bincount(customer * SLOTS + slot, weights=weight, minlength=n * SLOTS)
    return flat.astype(np.float32).reshape(n, SLOTS)


def population_prior(matrix_sum: np.ndarray) -> np.ndarray:
    """The population's hour-of-day profile (24) from everyone's summed 168 slots; flat when
    there is no engagement at all."""
    daily = matrix_sum.reshape(7, 24).sum(axis=0).astype(np.float64)
    total = daily.sum()
    return daily / total if total > 0 else np.full(24, 1 / 24)


def shrunk(matrix: np.ndarray, prior_daily: np.ndarray) -> np.ndarray:
    """The twice-shrunk 168-slot profile per customer (rows sum to about 1)."""
    total = matrix.sum(axis=1, keepdims=True)
    daily_own = matrix.reshape(-1, 7, 24).sum(axis=1)
    daily = (daily_own + DAILY_STRENGTH * prior_daily[None, :]) / (total + DAILY_STRENGTH)
    week_prior = np.tile(daily / 7.0, (1, 7))
    return (matrix + WEEKLY_STRENGTH * week_prior) / (total + WEEKLY_STRENGTH)


def shrunk_day(matrix: np.ndarray, prior_daily: np.ndarray, weekday: int) -> np.ndarray:
    """The 24 slots of one weekday of :func:`shrunk` (same numbers), without the other six."""
    if not 0 <= weekday <= 6:
        raise ValidationError("weekday must be 0..6", field="weekday")
    total = matrix.sum(axis=1, keepdims=True)
    daily_own = matrix.reshape(-1, 7, 24).sum(axis=1)
    daily = (daily_own + DAILY_STRENGTH * prior_daily[None, :]) / (total + DAILY_STRENGTH)
    day = matrix[:, weekday * 24 : weekday * 24 + 24]
    return (day + WEEKLY_STRENGTH * daily / 7.0) / (total + WEEKLY_STRENGTH)


@dataclass(frozen=True)
class SendTimes:
    best_slot: np.ndarray  # int16 per customer, 0..167
    confidence: np.ndarray  # float32: the best slot's share of the profile
    observed: np.ndarray  # float32: the person's own decayed engagement (0 = prior only)


def score_send_times(events: Engagement, n_customers: int, as_of_local: int) -> SendTimes:
    """Best hour of the week for each of ``n_customers`` (vectorised, in blocks)."""
    if n_customers < 0:
        raise ValidationError("n_customers must not be negative", field="n_customers")
    if len(events.customer) and (events.customer.min() < 0 or events.customer.max() >= n_customers):
        raise ValidationError("a customer index is out of range", field="customer")
    weight = decayed_weights(events, as_of_local)
    slot = slot_of(events.local_ts).astype(np.int64)
    pop = np.bincount(slot, weights=weight, minlength=SLOTS)
    prior = population_prior(pop)
    order = np.argsort(events.customer, kind="stable")
    cust, slot, weight = events.customer[order].astype(np.int64), slot[order], weight[order]
    best = np.empty(n_customers, dtype=np.int16)
    conf = np.empty(n_customers, dtype=np.float32)
    seen = np.empty(n_customers, dtype=np.float32)
    for start in range(0, n_customers, _BLOCK):
        stop = min(start + _BLOCK, n_customers)
        lo, hi = np.searchsorted(cust, [start, stop])
        matrix = slot_matrix(cust[lo:hi] - start, slot[lo:hi], weight[lo:hi], stop - start)
        profile = shrunk(matrix, prior)
        best[start:stop] = profile.argmax(axis=1)
        conf[start:stop] = profile.max(axis=1)
        seen[start:stop] = matrix.sum(axis=1)
    return SendTimes(best, conf, seen)


def best_hour_on(profile: np.ndarray, weekday: int) -> int:
    """The best hour (0..23) of one weekday (Monday 0) in a shrunk 168 profile."""
    if not 0 <= weekday <= 6:
        raise ValidationError("weekday must be 0..6", field="weekday")
    return int(np.argmax(profile[weekday * 24 : weekday * 24 + 24]))
