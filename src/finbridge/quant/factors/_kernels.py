"""Numba kernels for the rolling operators Polars does not have natively.

Each takes a whole column sorted by (instrument, date), ``pos`` (the row's position inside its
instrument, 0 for the first day) and a window ``n``; a window exists only where ``pos >= n - 1``,
so windows never straddle two instruments, and one call covers every instrument (calling per
instrument cost more in Python overhead than the arithmetic). Rows without a full window, or
with a NaN inside it, are NaN, like the Polars rolling operators with ``min_samples = n``.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@numba.njit(cache=True)
def _regression(y: F64, pos: I64, n: int, what: int) -> F64:  # pragma: no cover - compiled
    # Least squares of y on x = 1..n inside each window; what: 0 slope, 1 r-square, 2 residual.
    out = np.full(y.shape[0], np.nan)
    x_mean = (n + 1) / 2.0
    sxx = 0.0
    for i in range(n):
        sxx += (i + 1 - x_mean) ** 2
    for t in range(n - 1, y.shape[0]):
        if pos[t] < n - 1:
            continue
        y_mean = 0.0
        bad = False
        for i in range(n):
            v = y[t - n + 1 + i]
            if np.isnan(v):
                bad = True
                break
            y_mean += v
        if bad:
            continue
        y_mean /= n
        sxy = 0.0
        syy = 0.0
        for i in range(n):
            dy = y[t - n + 1 + i] - y_mean
            sxy += (i + 1 - x_mean) * dy
            syy += dy * dy
        slope = sxy / sxx
        if what == 0:
            out[t] = slope
        elif what == 1:
            out[t] = (sxy * sxy) / (sxx * syy) if syy > 0 else np.nan
        else:
            out[t] = y[t] - (y_mean + slope * (n - x_mean))
    return out


@numba.njit(cache=True)
def _arg_extreme(
    y: F64, row_pos: I64, n: int, want_max: bool
) -> F64:  # pragma: no cover - compiled
    # 1-based position of the extreme inside the window counted from its oldest day (Qlib's
    # IdxMax/IdxMin); the first occurrence wins ties.
    out = np.full(y.shape[0], np.nan)
    for t in range(n - 1, y.shape[0]):
        if row_pos[t] < n - 1:
            continue
        best = np.nan
        at = -1
        for i in range(n):
            v = y[t - n + 1 + i]
            if np.isnan(v):
                at = -1
                break
            if at < 0 or (v > best if want_max else v < best):
                best = v
                at = i
        if at >= 0:
            out[t] = at + 1.0
    return out


@numba.njit(cache=True)
def _rank_last(y: F64, row_pos: I64, n: int) -> F64:  # pragma: no cover - compiled
    # Percentile of the newest value inside its window: average rank of ties / n, like pandas'
    # rolling(n).rank(pct=True) that Qlib's Rank uses. O(n) per row beats Polars' rolling_rank.
    out = np.full(y.shape[0], np.nan)
    for t in range(n - 1, y.shape[0]):
        if row_pos[t] < n - 1 or np.isnan(y[t]):
            continue
        last = y[t]
        less = 0
        equal = 0
        ok = True
        for i in range(t - n + 1, t + 1):
            v = y[i]
            if np.isnan(v):
                ok = False
                break
            if v < last:
                less += 1
            elif v == last:
                equal += 1
        if ok:
            out[t] = (less + (equal + 1) / 2.0) / n
    return out


def _f64(y: F64) -> F64:
    return np.ascontiguousarray(y, dtype=np.float64)


def _i64(pos: I64) -> I64:
    return np.ascontiguousarray(pos, dtype=np.int64)


def slope(y: F64, pos: I64, n: int) -> F64:
    return _regression(_f64(y), _i64(pos), n, 0)  # type: ignore[no-any-return]


def rsquare(y: F64, pos: I64, n: int) -> F64:
    return _regression(_f64(y), _i64(pos), n, 1)  # type: ignore[no-any-return]


def resi(y: F64, pos: I64, n: int) -> F64:
    return _regression(_f64(y), _i64(pos), n, 2)  # type: ignore[no-any-return]


def idxmax(y: F64, pos: I64, n: int) -> F64:
    return _arg_extreme(_f64(y), _i64(pos), n, True)  # type: ignore[no-any-return]


def idxmin(y: F64, pos: I64, n: int) -> F64:
    return _arg_extreme(_f64(y), _i64(pos), n, False)  # type: ignore[no-any-return]


def rank_pct(y: F64, pos: I64, n: int) -> F64:
    return _rank_last(_f64(y), _i64(pos), n)  # type: ignore[no-any-return]
