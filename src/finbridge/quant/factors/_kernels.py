"""Numba kernels for the rolling operators Polars does not have natively.

Each takes one instrument's series (oldest first) and a window ``n`` and returns an array of the
same length; the first ``n - 1`` values (and any window holding a NaN) are NaN, like the Polars
rolling operators with ``min_samples = n``.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]


@numba.njit(cache=True)
def _regression(y: F64, n: int, what: int) -> F64:  # pragma: no cover - compiled
    # Least squares of y on x = 1..n inside each window; what: 0 slope, 1 r-square, 2 residual.
    out = np.full(y.shape[0], np.nan)
    x_mean = (n + 1) / 2.0
    sxx = 0.0
    for i in range(n):
        sxx += (i + 1 - x_mean) ** 2
    for t in range(n - 1, y.shape[0]):
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
def _arg_extreme(y: F64, n: int, want_max: bool) -> F64:  # pragma: no cover - compiled
    # 1-based position of the extreme inside the window counted from its oldest day (Qlib's
    # IdxMax/IdxMin); the first occurrence wins ties.
    out = np.full(y.shape[0], np.nan)
    for t in range(n - 1, y.shape[0]):
        best = np.nan
        pos = -1
        for i in range(n):
            v = y[t - n + 1 + i]
            if np.isnan(v):
                pos = -1
                break
            if pos < 0 or (v > best if want_max else v < best):
                best = v
                pos = i
        if pos >= 0:
            out[t] = pos + 1.0
    return out


def slope(y: F64, n: int) -> F64:
    return _regression(np.ascontiguousarray(y, dtype=np.float64), n, 0)  # type: ignore[no-any-return]


def rsquare(y: F64, n: int) -> F64:
    return _regression(np.ascontiguousarray(y, dtype=np.float64), n, 1)  # type: ignore[no-any-return]


def resi(y: F64, n: int) -> F64:
    return _regression(np.ascontiguousarray(y, dtype=np.float64), n, 2)  # type: ignore[no-any-return]


def idxmax(y: F64, n: int) -> F64:
    return _arg_extreme(np.ascontiguousarray(y, dtype=np.float64), n, True)  # type: ignore[no-any-return]


def idxmin(y: F64, n: int) -> F64:
    return _arg_extreme(np.ascontiguousarray(y, dtype=np.float64), n, False)  # type: ignore[no-any-return]
