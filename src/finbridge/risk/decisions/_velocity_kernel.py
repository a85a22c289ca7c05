"""The numba kernel behind :class:`~finbridge.risk.decisions._velocity.InProcessVelocity`.

One call per event checks every entity (lateness, flood cap), then updates each present entity's
windows and writes all features into a float64 row in the catalog's order. Imported when the first
in-process store is built (numba is heavy: ``import finbridge.risk`` must stay light).

State, all int64 numpy arrays (a handful of objects, so the cyclic collector walks none of it):

* ``meta[slot]`` one row per entity instance (slots are handed out by the Python side):
  watermark, end (next absolute position), ring block (base, size class), the min and max
  queues' head and tail, then per window: oldest position in it, exact sum and sum of squares
  (two 56-bit limbs each, see ``_split``) and one distinct count per distinct-counted attribute.
* ``arena`` the rings: an entity's events live in one block of ``_FIELDS`` x ``cap`` words
  (time, amount, last-occurrence bits, min queue, max queue), indexed by absolute position modulo
  ``cap``; a full ring moves to a block twice as large. Freed blocks go to a free list per size.

Distinct counts without a counter per window: an event's value is counted in a window iff it is
the value's latest occurrence at this entity (its bit is set) and it is inside the window (every
window ends at the newest event). The Python side knows each value's latest position and passes
it in; the kernel clears that bit and sets the new one.
"""

from __future__ import annotations

import math

import numba
import numpy as np

# meta columns
WM, END, BASE, CLS, MINH, MINT, MAXH, MAXT = range(8)
FIXED = 8
HEAD, SH, SL, QH, QL = range(5)  # per window, then one distinct count per attribute
# io = cfg, then ev, then raw (one array: each argument costs the call ~0.2 us to unbox).
# cfg: [ntypes, width, window stride, scale, lateness, cap, nfeat, max distinct, ev at, raw at],
# then per type
NT, WIDTH, WSTRIDE, SCALE, LATE, CAP, NFEAT, MAXD, EV_AT, RAW_AT = range(10)
CFG_FIXED = 10
T_NW, T_LONGEST, T_ND, T_FEAT, T_RAW = range(5)  # per type, then its spans
T_FIXED = 5
# ev: [ts, amount, info a, info b, fallbacks], then per type: slot, new, pos out, start out, prevs
E_TS, E_AMOUNT, E_A, E_B, E_FALLBACK = range(5)
E_FIXED = 5
P_SLOT, P_NEW, P_POS, P_START = range(4)
P_FIXED = 4
# arena[0] is the top of the arena, arena[1 + k] the head of size class k's free list; blocks
# start at ARENA_START
CLASSES = 24  # ring sizes 8 << k
ARENA_START = 32
_FIELDS = 5  # time, amount, bits, min queue, max queue
MIN_CAP = 8
LIMB = 56
LIMB_MASK = (1 << LIMB) - 1
OK, LATE_EVENT, FLOOD, NEED_SPACE = range(4)
RAW_FIELDS = 8  # window index, n, s (2 limbs), ss (2 limbs), min, max
_FAST_SUM = 1 << 53  # below this an int divides by the scale exactly as Python does
_I64_MAX = (1 << 63) - 1


@numba.njit(cache=True)
def _split(a):  # type: ignore[no-untyped-def]  # pragma: no cover
    """a * a as (high, low) limbs of 2**56, exactly, for 0 <= a < 2**50."""
    x = a >> 28
    y = a & ((1 << 28) - 1)
    c = 2 * x * y
    hi = x * x + (c >> 28)
    lo = ((c & ((1 << 28) - 1)) << 28) + y * y
    return hi + (lo >> LIMB), lo & LIMB_MASK


@numba.njit(cache=True)
def _carry(meta, slot, at, hi, lo):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Add (hi, lo) (either sign, |lo| < 2**56) to the two limbs at ``meta[slot, at:at + 2]``."""
    hi += meta[slot, at]
    lo += meta[slot, at + 1]
    if lo < 0:
        lo += 1 << LIMB
        hi -= 1
    elif lo > LIMB_MASK:
        lo -= 1 << LIMB
        hi += 1
    meta[slot, at] = hi
    meta[slot, at + 1] = lo
    return hi, lo


@numba.njit(cache=True)
def _alloc(arena, free, k):  # type: ignore[no-untyped-def]  # pragma: no cover
    head = free[1 + k]
    if head >= 0:
        free[1 + k] = arena[head]
        return head
    base = free[0]
    free[0] = base + _FIELDS * (MIN_CAP << k)
    return base


@numba.njit(cache=True)
def release(meta, arena, slots):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Give forgotten entities' ring blocks back to their size classes' free lists."""
    free = arena
    for slot in slots:
        k = meta[slot, CLS]
        base = meta[slot, BASE]
        arena[base] = free[1 + k]
        free[1 + k] = base


@numba.njit(cache=True)
def observe(meta, arena, io, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Admit (all entities checked first: a refusal changes nothing), update, write features."""
    cfg = io
    ev = io[io[EV_AT] :]
    raw = io[io[RAW_AT] :]
    free = arena
    ntypes = cfg[NT]
    stride = cfg[WSTRIDE]
    scale = cfg[SCALE]
    maxd = cfg[MAXD]
    pstride = P_FIXED + maxd
    tstride = T_FIXED + (cfg[WIDTH] - FIXED) // stride
    ts = ev[E_TS]
    amount = ev[E_AMOUNT]
    # Phase 1: admission, and the arena room this event may need (nothing is written).
    need = 0
    for t in range(ntypes):
        p = E_FIXED + t * pstride
        slot = ev[p + P_SLOT]
        if slot < 0:
            continue
        if ev[p + P_NEW] == 1:
            need += _FIELDS * MIN_CAP
            continue
        wm = meta[slot, WM]
        if ts < wm - cfg[LATE]:
            ev[E_A] = t
            ev[E_B] = wm
            return LATE_EVENT
        now = max(wm, ts)
        c = CFG_FIXED + t * tstride
        longest = cfg[c + T_LONGEST]
        cut = now - cfg[c + T_FIXED + longest]
        end = meta[slot, END]
        cap = MIN_CAP << meta[slot, CLS]
        base = meta[slot, BASE]
        first = meta[slot, FIXED + longest * stride + HEAD]
        while first < end and arena[base + (first & (cap - 1))] <= cut:
            first += 1
        staying = end - first
        if staying >= cfg[CAP]:
            ev[E_A] = t
            ev[E_B] = staying
            return FLOOD
        if staying == cap:
            need += 2 * _FIELDS * cap
    if free[0] + need > arena.shape[0]:
        ev[E_A] = need
        return NEED_SPACE
    # Phase 2: update each present entity and write its features; absent ones read as zeros.
    fallbacks = 0
    for t in range(ntypes):
        p = E_FIXED + t * pstride
        c = CFG_FIXED + t * tstride
        nw = cfg[c + T_NW]
        nd = cfg[c + T_ND]
        feat = cfg[c + T_FEAT]
        per = 6 + nd
        slot = ev[p + P_SLOT]
        if slot < 0:
            for i in range(nw * per):
                out[feat + i] = 0.0
            continue
        if ev[p + P_NEW] == 1:
            for i in range(cfg[WIDTH]):
                meta[slot, i] = 0
            meta[slot, WM] = -(1 << 62)
            meta[slot, BASE] = _alloc(arena, free, 0)
        now = max(meta[slot, WM], ts)
        meta[slot, WM] = now
        end = meta[slot, END]
        cap = MIN_CAP << meta[slot, CLS]
        base = meta[slot, BASE]
        mask = cap - 1
        longest = cfg[c + T_LONGEST]
        start = meta[slot, FIXED + longest * stride + HEAD]
        # The values' previous latest occurrences stop being the latest (if still kept).
        for j in range(nd):
            prev = ev[p + P_FIXED + j]
            if prev >= start:
                arena[base + 2 * cap + (prev & mask)] &= ~(1 << j)
                for w in range(nw):
                    m = FIXED + w * stride
                    if prev >= meta[slot, m + HEAD]:
                        meta[slot, m + 5 + j] -= 1
        # Expire: events at or before now - span leave (the window is (now - span, now]).
        for w in range(nw):
            m = FIXED + w * stride
            cut = now - cfg[c + T_FIXED + w]
            h = meta[slot, m + HEAD]
            while h < end and arena[base + (h & mask)] <= cut:
                a = arena[base + cap + (h & mask)]
                bits = arena[base + 2 * cap + (h & mask)]
                _carry(meta, slot, m + SH, 0, -a)
                q_hi, q_lo = _split(a)
                _carry(meta, slot, m + QH, -q_hi, -q_lo)
                for j in range(nd):
                    if bits & (1 << j):
                        meta[slot, m + 5 + j] -= 1
                h += 1
            meta[slot, m + HEAD] = h
        start = meta[slot, FIXED + longest * stride + HEAD]
        # The queues keep only positions still kept.
        for qa, qf in ((MINH, 3), (MAXH, 4)):
            h, tail = meta[slot, qa], meta[slot, qa + 1]
            while h < tail and arena[base + qf * cap + (h & mask)] < start:
                h += 1
            meta[slot, qa] = h
        if end - start == cap:  # full ring: move to a block twice the size
            k = meta[slot, CLS] + 1
            nbase = _alloc(arena, free, k)
            ncap = MIN_CAP << k
            nmask = ncap - 1
            for pos in range(start, end):
                for f in range(3):
                    arena[nbase + f * ncap + (pos & nmask)] = arena[base + f * cap + (pos & mask)]
            for f in range(3, 5):
                qa = MINH if f == 3 else MAXH
                for q in range(meta[slot, qa], meta[slot, qa + 1]):
                    arena[nbase + f * ncap + (q & nmask)] = arena[base + f * cap + (q & mask)]
            arena[base] = free[1 + k - 1]
            free[1 + k - 1] = base
            meta[slot, BASE] = base = nbase
            meta[slot, CLS] = k
            cap = ncap
            mask = nmask
        # Add the event at position ``end``.
        pos = end
        i = pos & mask
        arena[base + i] = now
        arena[base + cap + i] = amount
        bits = 0
        for j in range(nd):
            if ev[p + P_FIXED + j] != -2:  # -2: the event has no value for this attribute
                bits |= 1 << j
        arena[base + 2 * cap + i] = bits
        # Monotonic queues: drop from the back every entry the new amount makes irrelevant
        # (min: amounts strictly increasing; max: strictly decreasing).
        for qa, qf, sign in ((MINH, 3, 1), (MAXH, 4, -1)):
            qb = base + qf * cap
            h, tail = meta[slot, qa], meta[slot, qa + 1]
            while tail > h:
                last = arena[base + cap + (arena[qb + ((tail - 1) & mask)] & mask)]
                if sign * (last - amount) < 0:
                    break
                tail -= 1
            arena[qb + (tail & mask)] = pos
            meta[slot, qa + 1] = tail + 1
        end += 1
        meta[slot, END] = end
        ev[p + P_POS] = pos
        ev[p + P_START] = start
        a_hi, a_lo = _split(amount)
        # Features, window by window.
        for w in range(nw):
            m = FIXED + w * stride
            s_hi, s_lo = _carry(meta, slot, m + SH, 0, amount)
            q_hi, q_lo = _carry(meta, slot, m + QH, a_hi, a_lo)
            for j in range(nd):
                if bits & (1 << j):
                    meta[slot, m + 5 + j] += 1
            first = meta[slot, m + HEAD]
            n = end - first
            at = _first_at(arena, base + 3 * cap, mask, first, meta[slot, MINH], meta[slot, MINT])
            lo = arena[base + cap + (at & mask)]
            at = _first_at(arena, base + 4 * cap, mask, first, meta[slot, MAXH], meta[slot, MAXT])
            hi = arena[base + cap + (at & mask)]
            o = feat + w * per
            out[o] = float(n)
            for j in range(nd):
                out[o + 6 + j] = float(meta[slot, m + 5 + j])
            # Python's int / int is correctly rounded; for ints below 2**53 that is float / float,
            # which is what this computes. Anything larger is finished in Python (exact ints).
            fast = s_hi == 0 and s_lo < _FAST_SUM and q_hi < 64 and n * scale < _FAST_SUM
            if fast:
                ss = (q_hi << LIMB) + q_lo
                fast = ss <= _I64_MAX // n
            if fast:
                ss = (q_hi << LIMB) + q_lo
                out[o + 1] = s_lo / scale
                out[o + 2] = s_lo / (n * scale)
                out[o + 3] = lo / scale
                out[o + 4] = hi / scale
                # n*ss - s^2 is an exact integer (never negative): the same float as Python's.
                out[o + 5] = math.sqrt(float(n * ss - s_lo * s_lo)) / (n * scale)
            else:
                r = fallbacks * RAW_FIELDS
                raw[r] = cfg[c + T_RAW] + w
                raw[r + 1] = n
                raw[r + 2] = s_hi
                raw[r + 3] = s_lo
                raw[r + 4] = q_hi
                raw[r + 5] = q_lo
                raw[r + 6] = lo
                raw[r + 7] = hi
                fallbacks += 1
    ev[E_FALLBACK] = fallbacks
    return OK


@numba.njit(cache=True)
def _first_at(arena, qb, mask, position, lo, hi):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The first queue index in [lo, hi) holding a position >= ``position`` (binary search)."""
    if lo < hi and arena[qb + (lo & mask)] >= position:
        return arena[qb + (lo & mask)]  # the usual case: the queue's head is inside the window
    while lo < hi:
        mid = (lo + hi) // 2
        if arena[qb + (mid & mask)] < position:
            lo = mid + 1
        else:
            hi = mid
    return arena[qb + (lo & mask)]


def new_arena(words: int) -> np.ndarray:
    """An empty arena: no free blocks, the top at ARENA_START."""
    arena = np.zeros(max(words, ARENA_START), np.int64)
    arena[1 : 1 + CLASSES] = -1
    arena[0] = ARENA_START
    return arena


def enlarged(a: np.ndarray, rows: int) -> np.ndarray:
    """A copy of ``a`` with ``rows`` rows (the new ones zero)."""
    out = np.zeros((rows, *a.shape[1:]), a.dtype)
    out[: a.shape[0]] = a
    return out
