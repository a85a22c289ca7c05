"""Exact sliding-window velocity features per entity (customer, device, IP, card, terminal, payee).

Every window is a true sliding window ``(t - span, t]`` evaluated at the event's own time: each
event leaves a window at exactly the instant it becomes older than the span (event-level expiry,
not hopping buckets). Per entity instance and window we keep the events in arrival order with
running integer aggregates (count, sum and sum of squares of minor units), monotonic deques for
min/max and a counter map per distinct-counted attribute, so an update costs O(1) amortised.

Amounts are integer minor units, so sums are exact; averages and standard deviations are derived
from the exact integers by one shared function (:func:`finish`), which is why the in-process and
the Redis backend (:mod:`finbridge.risk.velocity_redis`) return bit-identical features.

Out-of-order clocks (the policy, identical in both backends): every entity instance keeps a
watermark, the latest event time it has seen. An event up to ``max_lateness_ms`` older than the
watermark is accepted and *clamped* to the watermark (counted as if it arrived now, so windows
never move backwards); an event older than that is refused with :class:`LateEvent` and changes
nothing (all entities are checked before any is updated).

Floods: an entity instance holding ``max_events_per_entity`` events in its longest window refuses
further events with :class:`EntityFlood` (state stays bounded; the engine turns this into a
decline that says why).
"""

from __future__ import annotations

import math
import threading
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from finbridge.core.errors import ServiceUnavailable, ValidationError

ENTITY_TYPES = ("customer", "device", "ip", "card", "account", "terminal", "merchant", "payee")
AGGREGATES = ("count", "sum", "avg", "min", "max", "std")

_UNITS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}
MIN_SPAN_MS = 60_000
MAX_SPAN_MS = 180 * 86_400_000


def parse_span(label: str) -> int:
    """``"1m"``, ``"6h"``, ``"180d"`` -> milliseconds; spans from 1 minute to 180 days."""
    if len(label) < 2 or label[-1] not in _UNITS or not label[:-1].isdigit():
        raise ValidationError(f"window {label!r} must look like 1m, 6h or 30d", field="window")
    span = int(label[:-1]) * _UNITS[label[-1]]
    if not MIN_SPAN_MS <= span <= MAX_SPAN_MS:
        raise ValidationError(f"window {label!r} is outside 1m..180d", field="window")
    return span


class LateEvent(ValidationError):
    """The event is older than an entity's watermark by more than the allowed lateness."""

    code = "late_event"


class EntityFlood(ValidationError):
    """One entity instance sent more events than its window may hold."""

    code = "entity_flood"


class VelocityUnavailable(ServiceUnavailable):
    """The velocity state store (Redis) did not answer in time."""


@dataclass(frozen=True, slots=True)
class EntityWindows:
    """Which windows (and which distinct counts) to keep for one entity type."""

    entity: str
    windows: tuple[str, ...]
    distinct_of: tuple[str, ...] = ()
    spans: tuple[int, ...] = field(init=False, repr=False, compare=False)
    longest: int = field(init=False, repr=False, compare=False)  # index of the longest window

    def __post_init__(self) -> None:
        if self.entity not in ENTITY_TYPES:
            raise ValidationError(f"unknown entity type {self.entity!r}", field="entity")
        if not self.windows:
            raise ValidationError(f"{self.entity} needs at least one window", field="windows")
        spans = tuple(parse_span(w) for w in self.windows)
        object.__setattr__(self, "spans", spans)
        object.__setattr__(self, "longest", spans.index(max(spans)))


@dataclass(frozen=True, slots=True)
class VelocityConfig:
    entities: tuple[EntityWindows, ...]
    max_lateness_ms: int = 5 * 60_000
    max_events_per_entity: int = 100_000
    minor_per_major: int = 100  # features are reported in major units (yuan, dollars)

    def feature_names(self) -> list[str]:
        names: list[str] = []
        for ent in self.entities:
            for w in ent.windows:
                names += [f"{ent.entity}_{agg}_{w}" for agg in AGGREGATES]
                names += [f"{ent.entity}_distinct_{a}_{w}" for a in ent.distinct_of]
        return names


def default_config() -> VelocityConfig:
    """The platform's standard feature set: 100+ features across six entity types."""
    return VelocityConfig(
        entities=(
            EntityWindows("customer", ("1m", "1h", "1d", "7d", "30d", "180d"), ("device", "payee")),
            EntityWindows("device", ("1h", "1d", "7d"), ("customer",)),
            EntityWindows("ip", ("1h", "1d"), ("customer",)),
            EntityWindows("card", ("1h", "1d", "7d", "30d")),
            EntityWindows("terminal", ("1d", "7d", "30d"), ("customer",)),
            EntityWindows("payee", ("1d", "30d"), ("customer",)),
        )
    )


@dataclass(frozen=True, slots=True)
class VelocityEvent:
    """What the velocity store needs from a business event."""

    event_id: str
    ts_ms: int
    amount_minor: int
    keys: Mapping[str, str]  # entity type -> entity id; absent entities read as empty windows
    attrs: Mapping[str, str] = field(default_factory=dict)  # values for distinct counts


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Exact raw aggregates of one window: the common currency of both backends."""

    n: int
    s: int
    ss: int
    mn: int
    mx: int
    distinct: tuple[int, ...]


EMPTY = WindowStats(0, 0, 0, 0, 0, ())


_NAMES: dict[tuple[str, str, tuple[str, ...]], tuple[str, ...]] = {}


def _names(ent: EntityWindows, w: str) -> tuple[str, ...]:
    key = (ent.entity, w, ent.distinct_of)
    names = _NAMES.get(key)
    if names is None:
        p = ent.entity
        names = _NAMES[key] = tuple(f"{p}_{agg}_{w}" for agg in AGGREGATES) + tuple(
            f"{p}_distinct_{a}_{w}" for a in ent.distinct_of
        )
    return names


def finish(ent: EntityWindows, w: str, st: WindowStats, scale: int, out: dict[str, float]) -> None:
    """Turn exact integer aggregates into features (major units). Shared by both backends."""
    count, total, avg, mn, mx, std, *distinct = _names(ent, w)
    n = st.n
    out[count] = float(n)
    out[total] = st.s / scale
    if n:
        out[avg] = st.s / (n * scale)
        out[mn] = st.mn / scale
        out[mx] = st.mx / scale
        # n*ss - s^2 is an exact integer (never negative), so std is correctly rounded.
        out[std] = math.sqrt(n * st.ss - st.s * st.s) / (n * scale)
    else:
        out[avg] = out[mn] = out[mx] = out[std] = 0.0
    for i, name in enumerate(distinct):
        out[name] = float(st.distinct[i]) if st.distinct else 0.0


class VelocityStore(Protocol):
    config: VelocityConfig

    def observe(self, event: VelocityEvent) -> dict[str, float]:
        """Record ``event`` and return every feature as of its (clamped) time."""
        ...

    def close(self) -> None: ...


class _Window:
    __slots__ = ("counts", "events", "maxs", "mins", "n", "s", "span", "ss")

    def __init__(self, span: int, n_distinct: int) -> None:
        self.span = span
        self.events: deque[tuple[int, int, int, tuple[str | None, ...]]] = deque()
        self.mins: deque[tuple[int, int]] = deque()  # (amount, seq), amounts increasing
        self.maxs: deque[tuple[int, int]] = deque()  # (amount, seq), amounts decreasing
        self.counts: list[Counter[str]] = [Counter() for _ in range(n_distinct)]
        self.n = self.s = self.ss = 0

    def add(self, ts: int, seq: int, amount: int, values: tuple[str | None, ...]) -> None:
        self.events.append((ts, seq, amount, values))
        self.n += 1
        self.s += amount
        self.ss += amount * amount
        while self.mins and self.mins[-1][0] >= amount:
            self.mins.pop()
        self.mins.append((amount, seq))
        while self.maxs and self.maxs[-1][0] <= amount:
            self.maxs.pop()
        self.maxs.append((amount, seq))
        for counter, v in zip(self.counts, values, strict=True):
            if v is not None:
                counter[v] += 1

    def expire(self, now: int) -> None:
        cut = now - self.span
        events = self.events
        while events and events[0][0] <= cut:
            _, seq, amount, values = events.popleft()
            self.n -= 1
            self.s -= amount
            self.ss -= amount * amount
            if self.mins[0][1] == seq:
                self.mins.popleft()
            if self.maxs[0][1] == seq:
                self.maxs.popleft()
            for counter, v in zip(self.counts, values, strict=True):
                if v is not None:
                    counter[v] -= 1
                    if not counter[v]:
                        del counter[v]

    def stats(self) -> WindowStats:
        if not self.n:
            return WindowStats(0, 0, 0, 0, 0, tuple(0 for _ in self.counts))
        return WindowStats(
            self.n,
            self.s,
            self.ss,
            self.mins[0][0],
            self.maxs[0][0],
            tuple(len(c) for c in self.counts),
        )


class _Entity:
    __slots__ = ("watermark", "windows")

    def __init__(self, spec: EntityWindows) -> None:
        self.watermark = -(2**62)
        self.windows = [_Window(span, len(spec.distinct_of)) for span in spec.spans]


class InProcessVelocity:
    """Velocity state in this process (the embedded default); thread-safe."""

    def __init__(self, config: VelocityConfig) -> None:
        self.config = config
        self._state: dict[tuple[str, str], _Entity] = {}
        self._lock = threading.Lock()
        self._seq = 0

    def observe(self, event: VelocityEvent) -> dict[str, float]:
        cfg = self.config
        out: dict[str, float] = {}
        with self._lock:
            present = [(spec, key) for spec in cfg.entities if (key := event.keys.get(spec.entity))]
            # Check every entity first so a refused event changes nothing anywhere.
            for spec, key in present:
                ent = self._state.get((spec.entity, key))
                if ent is None:
                    continue
                check_admission(spec.entity, ent.watermark, event.ts_ms, cfg)
                # Expiring early is harmless (time only moves forward) and keeps the cap exact.
                longest = ent.windows[spec.longest]
                longest.expire(max(ent.watermark, event.ts_ms))
                if longest.n >= cfg.max_events_per_entity:
                    raise EntityFlood(
                        f"{spec.entity} {key} already has {longest.n} events in its "
                        f"{spec.windows[spec.longest]} window (cap {cfg.max_events_per_entity})",
                        field=f"keys.{spec.entity}",
                    )
            self._seq += 1
            for spec, key in present:
                ent = self._state.get((spec.entity, key))
                if ent is None:
                    ent = self._state[(spec.entity, key)] = _Entity(spec)
                ts = max(event.ts_ms, ent.watermark)
                ent.watermark = ts
                values = tuple(event.attrs.get(a) for a in spec.distinct_of)
                for w, label in zip(ent.windows, spec.windows, strict=True):
                    w.add(ts, self._seq, event.amount_minor, values)
                    w.expire(ts)
                    finish(spec, label, w.stats(), cfg.minor_per_major, out)
        for spec in cfg.entities:
            if spec.entity not in event.keys or not event.keys[spec.entity]:
                empty = WindowStats(0, 0, 0, 0, 0, tuple(0 for _ in spec.distinct_of))
                for label in spec.windows:
                    finish(spec, label, empty, cfg.minor_per_major, out)
        return out

    def entity_count(self) -> int:
        return len(self._state)

    def close(self) -> None:
        self._state.clear()


def check_admission(entity: str, watermark: int, ts: int, cfg: VelocityConfig) -> None:
    if ts < watermark - cfg.max_lateness_ms:
        raise LateEvent(
            f"event is {(watermark - ts) / 1000:.0f}s older than the latest {entity} event; "
            f"at most {cfg.max_lateness_ms / 1000:.0f}s of lateness is accepted",
            field="occurred_at",
        )


def feature_vector(features: Mapping[str, float], names: Sequence[str]) -> list[float]:
    return [features.get(n, 0.0) for n in names]
