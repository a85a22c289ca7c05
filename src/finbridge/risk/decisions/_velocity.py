"""Exact sliding-window velocity features per entity (customer, device, IP, card, terminal, payee).

Every window is a true sliding window ``(t - span, t]`` evaluated at the event's own time: each
event leaves a window at exactly the instant it becomes older than the span (event-level expiry,
not hopping buckets). Per entity instance we keep its events in arrival order in one ring, with
per window a pointer to its oldest event and running integer aggregates (count, exact sum and
sum of squares of minor units), one monotonic queue each for min and max shared by all windows,
and distinct counts kept by "latest occurrence" marks, so an update costs O(1) amortised. The
in-process store does this in one compiled (numba) call per event: ``_velocity_kernel``.

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
from typing import Protocol, runtime_checkable

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


_MAX_WINDOWS = 16  # per entity type
_MAX_DISTINCT = 8  # distinct-counted attributes per entity type (bits of one word)
# Exactness bounds of the kernel's integers: amounts below 2**50 minor units (the platform's
# largest movement is 10**15), at most 2**18 events per entity instance (sums and sums of
# squares are two 56-bit limbs: 2**18 * 2**100 fits in 2**63 * 2**56), see ``_velocity_kernel``.
_MAX_AMOUNT = 1 << 50
_MAX_EVENTS = 1 << 18
_SWEEP_EVERY = 64  # observations between sweeps of a slice of idle entities
_SWEEP_SLICE = 256  # entities looked at per sweep (4 per observation: the sweep keeps up)
# The arrays are reserved at their working size up front, not doubled as they fill: a doubling
# copied the whole array into new memory while the lock was held, and every page of the copy
# was a first-touch fault (the gateway at 1,000 decisions/s: 80 ms to double the entity rows
# to 131,072, 106 ms to double the queues to 64 MiB, each decision in flight waiting). Zeroed
# memory this large is mapped lazily by the OS, so a reservation costs address space, not
# memory: pages are faulted in one at a time as the stores' tops rise (~0.1 us each, at most
# ~0.5 ms, measured), spread over the decisions that reach them. Past a reservation the array
# still doubles.
_ARENA_RESERVE_WORDS = 1 << 25  # event queues: 256 MiB of address space
_META_RESERVE_ROWS = 1 << 18  # entities: 262,144 rows (~100 MiB of address space at 50 words)


class InProcessVelocity:
    """Velocity state in this process (the embedded default); thread-safe.

    The windows live in a few int64 arrays updated by one compiled call per event
    (``_velocity_kernel``: its docstring has the layout). Python keeps only what numba cannot:
    entity id -> slot (one dict per entity type) and, per distinct-counted attribute, each
    entity's value -> latest position (dicts of strings and ints: the collector tracks none).
    """

    def __init__(self, config: VelocityConfig) -> None:
        from finbridge.risk.decisions import _velocity_kernel as kernel

        self._k = kernel
        self.config = config
        ents = config.entities
        if not 0 < config.max_events_per_entity <= _MAX_EVENTS:
            raise ValidationError(
                f"max_events_per_entity must be 1..{_MAX_EVENTS}", field="max_events_per_entity"
            )
        if any(len(e.spans) > _MAX_WINDOWS or len(e.distinct_of) > _MAX_DISTINCT for e in ents):
            raise ValidationError(
                f"at most {_MAX_WINDOWS} windows and {_MAX_DISTINCT} distinct counts per entity",
                field="entities",
            )
        if config.minor_per_major < 1:
            raise ValidationError("minor_per_major must be positive", field="minor_per_major")
        maxw = max(len(e.spans) for e in ents)
        self._maxd = maxd = max(len(e.distinct_of) for e in ents)
        stride = 5 + maxd
        width = kernel.FIXED + maxw * stride
        self._names = tuple(config.feature_names())
        self._pstride = pstride = kernel.P_FIXED + maxd
        ev_len = kernel.E_FIXED + len(ents) * pstride
        self._cfg_len = cfg_len = kernel.CFG_FIXED + len(ents) * (kernel.T_FIXED + maxw)
        self._ev_end = cfg_len + ev_len
        nwin = sum(len(e.spans) for e in ents)
        cfg = [len(ents), width, stride, config.minor_per_major, config.max_lateness_ms]
        cfg += [config.max_events_per_entity, len(self._names), maxd, cfg_len, self._ev_end]
        self._window_names: list[tuple[str, ...]] = []  # global window index -> its 6 names
        feat = 0
        for e in ents:
            spans = list(e.spans) + [0] * (maxw - len(e.spans))
            cfg += [len(e.spans), e.longest, len(e.distinct_of), feat, len(self._window_names)]
            cfg += spans
            for w in e.windows:
                self._window_names.append(_names(e, w)[:6])
                feat += 6 + len(e.distinct_of)
        np = kernel.np
        self._io = np.zeros(self._ev_end + nwin * kernel.RAW_FIELDS, np.int64)
        self._io[:cfg_len] = cfg
        self._template = dict.fromkeys(self._names, 0.0)
        self._types = tuple(e.entity for e in ents)
        self._longest = tuple(e.windows[e.longest] for e in ents)
        self._slots: tuple[dict[str, int], ...] = tuple({} for _ in ents)
        # [type][attribute]: entity id -> {value: latest position}
        self._last: tuple[tuple[dict[str, dict[str, int]], ...], ...] = tuple(
            tuple({} for _ in e.distinct_of) for e in ents
        )
        # Per entity type, what ``_step`` needs, looked up once: its name, its slots, the
        # attributes it counts and their columns, where its fields start in ``ev``, and the
        # fields of an absent entity / the padding after its distinct values.
        self._plan = tuple(
            (
                e.entity,
                self._slots[t],
                tuple(zip(e.distinct_of, self._last[t], strict=True)),
                kernel.E_FIXED + t * pstride,
                [-1] * pstride,
                [0] * (maxd - len(e.distinct_of)),
            )
            for t, e in enumerate(ents)
        )
        self._lock = threading.Lock()
        self._reset(width)
        self._latest = -(2**62)  # the latest event time seen, for forgetting idle entities
        self._observed = 0
        self._sweep: list[tuple[int, list[str]]] = []  # per type index, keys left to look at
        self._claims: dict[str, int] = {}  # observed event id -> its time (see ``claim``)
        self._horizon_ms = max(e.spans[e.longest] for e in ents) + config.max_lateness_ms
        self.warm()

    def _reset(self, width: int) -> None:
        np = self._k.np
        self._meta = np.zeros((_META_RESERVE_ROWS, width), np.int64)
        self._arena = self._k.new_arena(_ARENA_RESERVE_WORDS)
        self._free_slots: list[int] = []
        self._next_slot = 0
        self._out = np.zeros(len(self._names), np.float64)

    def warm(self) -> None:
        """Compile (or load from numba's cache) the kernel now, not on the first event."""
        with self._lock:
            self._io[self._cfg_len : self._ev_end] = -1  # every entity absent: nothing changes
            self._call()

    def _call(self) -> int:
        return int(self._k.observe(self._meta, self._arena, self._io, self._out))

    def observe(self, event: VelocityEvent) -> dict[str, float]:
        with self._lock:
            fallbacks = self._step(event)
            out = self._template.copy()  # no resizing: ~25 % cheaper than dict(zip(...))
            out.update(zip(self._names, self._out.tolist(), strict=True))
            if fallbacks:
                self._finish_exactly(fallbacks, out)
        return out

    def _step(self, event: VelocityEvent) -> int:
        """Admit and record ``event`` (lock held); features are left in ``self._out``. Returns
        how many windows the kernel left to :meth:`_finish_exactly`."""
        ts = event.ts_ms
        amount = event.amount_minor
        if amount < 0:
            raise ValueError("velocity amounts are non-negative minor units")
        if amount >= _MAX_AMOUNT:
            raise ValidationError(
                f"velocity amounts must be below {_MAX_AMOUNT} minor units", field="amount"
            )
        keys = event.keys
        attrs = event.attrs
        evl = [ts, amount, 0, 0, 0]
        new: list[tuple[dict[str, int], str, int]] = []  # entities created by this event
        # (ev offset, the entity's value -> latest position if any, its column, id, value)
        seen: list[tuple[int, dict[str, int] | None, dict[str, dict[str, int]], str, str]] = []
        for entity, slots, pairs, p, absent, pad in self._plan:
            key = keys.get(entity)
            if not key:
                evl += absent
                continue
            slot = slots.get(key)
            if slot is None:
                slot = self._new_slot(len(new))
                new.append((slots, key, slot))
                evl += (slot, 1, 0, 0)
            else:
                evl += (slot, 0, 0, 0)
            for a, col in pairs:
                v = attrs.get(a)
                if v is None:
                    evl.append(-2)
                else:
                    latest = col.get(key)  # None for a new entity (forgetting pops it)
                    evl.append(-1 if latest is None else latest.get(v, -1))
                    seen.append((p, latest, col, key, v))
            if pad:
                evl += pad
        io = self._io
        io[self._cfg_len : self._ev_end] = evl
        k = self._k
        status = self._call()
        while status == k.NEED_SPACE:
            self._grow_arena(int(io[self._cfg_len + k.E_A]))
            status = self._call()
        ev = io[self._cfg_len : self._ev_end].tolist()
        if status != k.OK:
            self._refuse(status, ev[k.E_A], ev[k.E_B], ts, keys)
        if new:
            free = self._free_slots
            del free[len(free) - min(len(new), len(free)) :]
            for slots, key, slot in new:
                slots[key] = slot
                self._next_slot = max(self._next_slot, slot + 1)
        for p, latest, col, key, v in seen:  # each value's latest position (pruned)
            pos, start = ev[p + k.P_POS], ev[p + k.P_START]
            if latest is None:
                col[key] = {v: pos}
                continue
            latest[v] = pos
            if len(latest) > 2 * (pos + 1 - start) + 16:  # amortised O(1)
                col[key] = {x: q for x, q in latest.items() if q >= start}
        self._latest = max(self._latest, ts)
        self._observed += 1
        if self._observed % _SWEEP_EVERY == 0:
            self._forget_idle()
        return int(ev[k.E_FALLBACK])

    def _new_slot(self, taken: int) -> int:
        """The ``taken``-th free slot for an entity created by this event (taken for real only
        when the event is admitted)."""
        free = self._free_slots
        if taken < len(free):
            return free[len(free) - 1 - taken]
        slot = self._next_slot + taken - len(free)
        if slot >= self._meta.shape[0]:
            self._meta = self._k.enlarged(self._meta, 2 * self._meta.shape[0])
        return slot

    def _grow_arena(self, need: int) -> None:
        top = int(self._arena[0])
        self._arena = self._k.enlarged(self._arena, max(2 * self._arena.shape[0], top + need))

    def _refuse(self, status: int, a: int, b: int, ts: int, keys: Mapping[str, str]) -> None:
        entity = self._types[a]
        if status == self._k.LATE_EVENT:
            check_admission(entity, b, ts, self.config)
        raise EntityFlood(
            f"{entity} {keys.get(entity)} already has {b} events in its {self._longest[a]} "
            f"window (cap {self.config.max_events_per_entity})",
            field=f"keys.{entity}",
        )

    def _finish_exactly(self, fallbacks: int, out: dict[str, float]) -> None:
        """Windows whose integers are too large for the kernel's floats to equal Python's."""
        at = self._ev_end
        raw = self._io[at : at + fallbacks * self._k.RAW_FIELDS].tolist()
        limb = self._k.LIMB
        for r in range(0, len(raw), self._k.RAW_FIELDS):
            g, n, s_hi, s_lo, q_hi, q_lo, lo, hi = raw[r : r + self._k.RAW_FIELDS]
            s, ss = (s_hi << limb) + s_lo, (q_hi << limb) + q_lo
            _finish(self._window_names[g], n, s, ss, lo, hi, (), self.config.minor_per_major, out)

    def _forget_idle(self) -> None:
        """Drop a slice of entities whose every window is empty for good (bounded memory)."""
        # Small slices often (not one big pass): this runs on the decision path.
        if not self._sweep:
            self._sweep = [(t, list(slots)) for t, slots in enumerate(self._slots)]
        horizon = self._latest - self.config.max_lateness_ms
        budget = _SWEEP_SLICE
        gone: list[int] = []
        while budget and self._sweep:
            t, keys = self._sweep[-1]
            slots = self._slots[t]
            spec = self.config.entities[t]
            oldest_allowed = horizon - spec.spans[spec.longest]
            take = keys[-budget:]  # the same keys, in the same slices, as one by one
            del keys[-budget:]
            budget -= len(take)
            found = [(key, slot) for key in take if (slot := slots.get(key)) is not None]
            if found:
                wm = self._meta[[slot for _, slot in found], self._k.WM]
                for (key, slot), idle in zip(found, (wm < oldest_allowed).tolist(), strict=True):
                    if idle:
                        del slots[key]
                        for col in self._last[t]:
                            col.pop(key, None)
                        gone.append(slot)
            if not keys:
                self._sweep.pop()
        if gone:  # one call for the slice (each call costs ~0.5 us)
            self._k.release(self._meta, self._arena, self._k.np.array(gone, self._k.np.int64))
            self._free_slots += gone

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
        return sum(len(slots) for slots in self._slots)

    def close(self) -> None:
        with self._lock:
            for slots in self._slots:
                slots.clear()
            for cols in self._last:
                for col in cols:
                    col.clear()
            self._sweep = []
            self._reset(self._meta.shape[1])


def check_admission(entity: str, watermark: int, ts: int, cfg: VelocityConfig) -> None:
    if ts < watermark - cfg.max_lateness_ms:
        raise LateEvent(
            f"event is {(watermark - ts) / 1000:.0f}s older than the latest {entity} event; "
            f"at most {cfg.max_lateness_ms / 1000:.0f}s of lateness is accepted",
            field="occurred_at",
        )


def feature_vector(features: Mapping[str, float], names: Sequence[str]) -> list[float]:
    return [features.get(n, 0.0) for n in names]
