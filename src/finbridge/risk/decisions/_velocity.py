"""Exact sliding-window velocity features per entity (customer, device, IP, card, terminal, payee).

Every window is a true sliding window ``(t - span, t]`` evaluated at the event's own time: each
event leaves a window at exactly the instant it becomes older than the span (event-level expiry,
not hopping buckets). Per entity instance and window we keep the events in arrival order with
running integer aggregates (count, sum and sum of squares of minor units), monotonic deques for
min/max and a counter map per distinct-counted attribute, so an update costs O(1) amortised.

Amounts are integer minor units, so sums are exact; averages and standard deviations are derived
from the exact integers by one shared function (:func:`finish`), which is why the in-process and
the Redis backend (:mod:`finbridge.risk.store._redis_velocity`) return bit-identical features.

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias, runtime_checkable

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
    _finish(_names(ent, w), st.n, st.s, st.ss, st.mn, st.mx, st.distinct, scale, out)


def _finish(
    names: tuple[str, ...],
    n: int,
    s: int,
    ss: int,
    lo: int,
    hi: int,
    distinct: tuple[int, ...],
    scale: int,
    out: dict[str, float],
) -> None:
    count, total, avg, mn, mx, std, *distinct_names = names
    out[count] = float(n)
    out[total] = s / scale
    if n:
        out[avg] = s / (n * scale)
        out[mn] = lo / scale
        out[mx] = hi / scale
        # n*ss - s^2 is an exact integer (never negative), so std is correctly rounded.
        out[std] = math.sqrt(n * ss - s * s) / (n * scale)
    else:
        out[avg] = out[mn] = out[mx] = out[std] = 0.0
    for i, name in enumerate(distinct_names):
        out[name] = float(distinct[i]) if distinct else 0.0


class VelocityStore(Protocol):
    config: VelocityConfig

    def observe(self, event: VelocityEvent) -> dict[str, float]:
        """Record ``event`` and return every feature as of its (clamped) time."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class ObservedOnce(Protocol):
    """A velocity store that remembers which observed (not decided) events it has counted, so
    a stream event redelivered after its effect was kept is not counted twice."""

    def claim(self, event_id: str, ts_ms: int) -> bool:
        """True the first time ``event_id`` is claimed (within the longest window)."""
        ...

    def release(self, event_id: str) -> None:
        """Forget a claim whose observation failed, so a redelivery counts it."""
        ...


class _Spec:
    """Per entity type, the precomputed shape of its state (window order, empty features)."""

    __slots__ = ("distinct", "empty", "longest", "names", "order", "spans", "spec")

    def __init__(self, spec: EntityWindows, scale: int) -> None:
        self.spec = spec
        self.spans = spec.spans
        self.longest = spec.longest
        self.distinct = len(spec.distinct_of)
        # Shortest window first, the longest last: the longest is the last to let an event go,
        # so it is the one that forgets the event's distinct values.
        self.order = tuple(sorted(range(len(spec.spans)), key=lambda w: spec.spans[w]))
        self.names = tuple(_names(spec, w) for w in spec.windows)
        self.empty: dict[str, float] = {}
        nothing = WindowStats(0, 0, 0, 0, 0, tuple(0 for _ in spec.distinct_of))
        for label in spec.windows:
            finish(spec, label, nothing, scale, self.empty)


# One entity instance's state: a tuple of dicts holding only ints and strings, which the cyclic
# garbage collector never tracks. The first version kept deques and Counters per window: at
# 100,000 entities that was 1.3 million tracked containers and every full collection paused the
# process for 0.77 s (measured); int64 arrays are tracked too (0.27 s). Here an entity costs the
# collector one tuple. Events are numbered per entity (absolute positions), so nothing shifts.
#   meta  [_WM] watermark, [_END] next position, [_MIN_HEAD]/[_MIN_TAIL] and [_MAX_HEAD]/
#         [_MAX_TAIL] bounds of the two queues, [_HEADS + w] oldest position in window w,
#         [_SUMS + 2w] exact sum and [_SUMS + 2w + 1] exact sum of squares (Python ints)
#   ts, amt  position -> clamped time (non-decreasing) / amount in minor units
#   mins, maxs  queue index -> position, amounts strictly increasing / decreasing: one monotonic
#               queue serves every window (a window's min is the first entry at or after its
#               oldest position)
#   then D dicts, one per distinct-counted attribute j: position -> that event's value
#   then W * D dicts, [w * D + j]: value -> count in window w for attribute j
# The parts are stored by column in InProcessVelocity (never as one long-lived tuple per entity:
# a tuple holding dicts stays tracked by the collector).
_Entity: TypeAlias = Sequence[dict[Any, Any]]
_WM, _END, _MIN_HEAD, _MIN_TAIL, _MAX_HEAD, _MAX_TAIL = range(6)
_HEADS = 8
_SUMS = 1024  # windows per entity type stay far below (_SUMS - _HEADS)
_SWEEP_EVERY = 64  # observations between sweeps of a slice of idle entities
_SWEEP_SLICE = 256  # entities looked at per sweep (4 per observation: the sweep keeps up)


def _new_entity(shape: _Spec) -> _Entity:
    nw = len(shape.spans)
    meta = dict.fromkeys(range(_HEADS + nw), 0)
    meta[_WM] = -(2**62)
    meta.update(dict.fromkeys(range(_SUMS, _SUMS + 2 * nw), 0))
    return (
        meta,
        {},
        {},
        {},
        {},
        *({} for _ in range(shape.distinct)),  # vals
        *({} for _ in range(nw * shape.distinct)),  # distinct counters
    )


def _staying(ent: _Entity, first: int, cut: int) -> int:
    """The first position at or after ``first`` whose time is after ``cut``."""
    ts, end = ent[1], ent[0][_END]
    while first < end and ts[first] <= cut:
        first += 1
    return first


class InProcessVelocity:
    """Velocity state in this process (the embedded default); thread-safe.

    State is kept by column: for each entity type a tuple of dicts, one per part of an entity's
    state (see ``_Entity``), each mapping entity id -> that part. The parts hold only ints and
    strings, so the collector tracks none of them and walks only these few column dicts.
    """

    def __init__(self, config: VelocityConfig) -> None:
        self.config = config
        self._shapes = tuple(_Spec(e, config.minor_per_major) for e in config.entities)
        self._cols: dict[str, tuple[dict[str, dict[Any, Any]], ...]] = {
            s.spec.entity: tuple({} for _ in range(5 + s.distinct * (1 + len(s.spans))))
            for s in self._shapes
        }
        self._lock = threading.Lock()
        self._latest = -(2**62)  # the latest event time seen, for forgetting idle entities
        self._observed = 0
        self._sweep: list[tuple[int, list[str]]] = []  # per shape index, keys left to look at
        self._claims: dict[str, int] = {}  # observed event id -> its time (see ``claim``)
        self._horizon_ms = max(s.spans[s.longest] for s in self._shapes) + config.max_lateness_ms

    def _entity(self, shape: _Spec, key: str) -> _Entity | None:
        cols = self._cols[shape.spec.entity]
        if key not in cols[0]:
            return None
        return [col[key] for col in cols]

    def observe(self, event: VelocityEvent) -> dict[str, float]:
        cfg = self.config
        out: dict[str, float] = {}
        ts = event.ts_ms
        amount = event.amount_minor
        if amount < 0:
            raise ValueError("velocity amounts are non-negative minor units")
        with self._lock:
            present = []
            for shape in self._shapes:
                key = event.keys.get(shape.spec.entity)
                if key:
                    present.append((shape, key, self._entity(shape, key)))
                else:
                    out.update(shape.empty)
            # Check every entity first so a refused event changes nothing anywhere.
            for shape, key, ent in present:
                if ent is None:
                    continue
                meta = ent[0]
                check_admission(shape.spec.entity, meta[_WM], ts, cfg)
                now = max(meta[_WM], ts)
                longest = shape.longest
                cut = now - shape.spans[longest]
                staying = meta[_END] - _staying(ent, meta[_HEADS + longest], cut)
                if staying >= cfg.max_events_per_entity:
                    label = shape.spec.windows[longest]
                    raise EntityFlood(
                        f"{shape.spec.entity} {key} already has {staying} events in its "
                        f"{label} window (cap {cfg.max_events_per_entity})",
                        field=f"keys.{shape.spec.entity}",
                    )
            for shape, key, ent in present:
                if ent is None:
                    ent = _new_entity(shape)
                    for col, part in zip(self._cols[shape.spec.entity], ent, strict=True):
                        col[key] = part
                values = [event.attrs.get(a) for a in shape.spec.distinct_of]
                _add(shape, ent, ts, amount, values, cfg.minor_per_major, out)
            self._latest = max(self._latest, ts)
            self._observed += 1
            if self._observed % _SWEEP_EVERY == 0:
                self._forget_idle()
        return out

    def _forget_idle(self) -> None:
        """Drop a slice of entities whose every window is empty for good (bounded memory)."""
        # Small slices often (not one big pass): this runs on the decision path.
        if not self._sweep:
            self._sweep = [
                (i, list(self._cols[s.spec.entity][0])) for i, s in enumerate(self._shapes)
            ]
        horizon = self._latest - self.config.max_lateness_ms
        budget = _SWEEP_SLICE
        while budget and self._sweep:
            index, keys = self._sweep[-1]
            shape = self._shapes[index]
            cols = self._cols[shape.spec.entity]
            oldest_allowed = horizon - shape.spans[shape.longest]
            while budget and keys:
                key = keys.pop()
                budget -= 1
                meta = cols[0].get(key)
                if meta is not None and meta[_WM] < oldest_allowed:
                    for col in cols:
                        del col[key]
            if not keys:
                self._sweep.pop()

    def claim(self, event_id: str, ts_ms: int) -> bool:
        with self._lock:
            if event_id in self._claims:
                return False
            self._claims[event_id] = ts_ms
            if len(self._claims) % 4096 == 0:  # bounded: claims older than any window go
                horizon = self._latest - self._horizon_ms
                self._claims = {k: t for k, t in self._claims.items() if t >= horizon}
            return True

    def release(self, event_id: str) -> None:
        with self._lock:
            self._claims.pop(event_id, None)

    def entity_count(self) -> int:
        return sum(len(cols[0]) for cols in self._cols.values())

    def close(self) -> None:
        for cols in self._cols.values():
            for col in cols:
                col.clear()


def _add(
    shape: _Spec,
    ent: _Entity,
    ts: int,
    amount: int,
    values: list[str | None],
    scale: int,
    out: dict[str, float],
) -> None:
    meta, log_ts, log_amt, mins, maxs = ent[:5]
    n_attr = shape.distinct
    vals = ent[5 : 5 + n_attr]
    distinct = ent[5 + n_attr :]
    now = max(ts, meta[_WM])
    meta[_WM] = now
    pos = meta[_END]
    meta[_END] = end = pos + 1
    log_ts[pos] = now
    log_amt[pos] = amount
    for j, v in enumerate(values):
        if v is not None:
            vals[j][pos] = v
    # Monotonic queues: drop from the back every entry the new amount makes irrelevant.
    head, tail = meta[_MIN_HEAD], meta[_MIN_TAIL]
    while tail > head and log_amt[mins[tail - 1]] >= amount:
        tail -= 1
        del mins[tail]
    mins[tail] = pos
    meta[_MIN_TAIL] = tail + 1
    head, tail = meta[_MAX_HEAD], meta[_MAX_TAIL]
    while tail > head and log_amt[maxs[tail - 1]] <= amount:
        tail -= 1
        del maxs[tail]
    maxs[tail] = pos
    meta[_MAX_TAIL] = tail + 1
    square = amount * amount
    longest = shape.longest
    for w in shape.order:
        counters = distinct[w * n_attr : (w + 1) * n_attr]
        for counter, v in zip(counters, values, strict=True):
            if v is not None:
                counter[v] = counter.get(v, 0) + 1
        # Expire: events at or before now - span leave (the window is (now - span, now]).
        first = meta[_HEADS + w]
        cut = now - shape.spans[w]
        s = amount
        ss = square
        forget = w == longest  # the last window to let an event go drops what it kept
        while log_ts[first] <= cut:
            a = log_amt[first]
            s -= a
            ss -= a * a
            for j in range(n_attr):
                v = vals[j].pop(first, None) if forget else vals[j].get(first)
                if v is not None:
                    counter = counters[j]
                    left = counter[v] - 1
                    if left:
                        counter[v] = left
                    else:
                        del counter[v]
            if forget:
                del log_ts[first], log_amt[first]
            first += 1
        meta[_HEADS + w] = first
        meta[_SUMS + 2 * w] += s
        meta[_SUMS + 2 * w + 1] += ss
    oldest = meta[_HEADS + longest]
    for queue, head_slot in ((mins, _MIN_HEAD), (maxs, _MAX_HEAD)):
        head = meta[head_slot]
        while queue[head] < oldest:
            del queue[head]
            head += 1
        meta[head_slot] = head
    for w, names in enumerate(shape.names):
        first = meta[_HEADS + w]
        lo = log_amt[mins[_first_at(mins, first, meta[_MIN_HEAD], meta[_MIN_TAIL])]]
        hi = log_amt[maxs[_first_at(maxs, first, meta[_MAX_HEAD], meta[_MAX_TAIL])]]
        counts = tuple(map(len, distinct[w * n_attr : (w + 1) * n_attr]))
        s = meta[_SUMS + 2 * w]
        _finish(names, end - first, s, meta[_SUMS + 2 * w + 1], lo, hi, counts, scale, out)


def _first_at(queue: dict[int, int], position: int, lo: int, hi: int) -> int:
    """Binary search: the first queue index in [lo, hi) holding a position >= ``position``."""
    if lo < hi and queue[lo] >= position:
        return lo  # the usual case: the queue's head is inside the window already
    while lo < hi:
        mid = (lo + hi) // 2
        if queue[mid] < position:
            lo = mid + 1
        else:
            hi = mid
    return lo


def check_admission(entity: str, watermark: int, ts: int, cfg: VelocityConfig) -> None:
    if ts < watermark - cfg.max_lateness_ms:
        raise LateEvent(
            f"event is {(watermark - ts) / 1000:.0f}s older than the latest {entity} event; "
            f"at most {cfg.max_lateness_ms / 1000:.0f}s of lateness is accepted",
            field="occurred_at",
        )


def feature_vector(features: Mapping[str, float], names: Sequence[str]) -> list[float]:
    return [features.get(n, 0.0) for n in names]
