"""The numba kernels behind batch features and tree scoring, compiled (and cached) on first use.

Kept in their own module so that importing the models concept does not import numba: only code
that scores or builds features in bulk pays for it.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True)
def window_kernel(key, a, spans, dest):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Exact (t - span, t] aggregates for rows sorted by (entity, time).

    Two pointers per window (the window start only moves forward) and monotonic deques for the
    min and max: O(rows x windows), the batch twin of the in-process velocity windows. Results
    are written at ``dest[i]``, the row's position in the caller's original order.
    """
    n_rows = a.shape[0]
    n_w = spans.shape[0]
    cnt = np.empty((n_w, n_rows), np.int64)
    tot = np.empty((n_w, n_rows), np.int64)
    sq = np.empty((n_w, n_rows), np.int64)
    mins = np.empty((n_w, n_rows), np.int64)
    maxs = np.empty((n_w, n_rows), np.int64)
    qmin = np.empty(n_rows, np.int64)
    qmax = np.empty(n_rows, np.int64)
    for w in range(n_w):
        span = spans[w]
        lo = 0
        s = 0
        ss = 0
        h1 = t1 = h2 = t2 = 0
        for i in range(n_rows):
            v = a[i]
            s += v
            ss += v * v
            while key[lo] <= key[i] - span:
                s -= a[lo]
                ss -= a[lo] * a[lo]
                lo += 1
            while t1 > h1 and a[qmin[t1 - 1]] >= v:
                t1 -= 1
            qmin[t1] = i
            t1 += 1
            while t2 > h2 and a[qmax[t2 - 1]] <= v:
                t2 -= 1
            qmax[t2] = i
            t2 += 1
            while qmin[h1] < lo:
                h1 += 1
            while qmax[h2] < lo:
                h2 += 1
            j = dest[i]
            cnt[w, j] = i + 1 - lo
            tot[w, j] = s
            sq[w, j] = ss
            mins[w, j] = a[qmin[h1]]
            maxs[w, j] = a[qmax[h2]]
    return cnt, tot, sq, mins, maxs


@numba.njit(cache=True, nogil=True)
def trees_block(xt, lo, hi, roots, feature, threshold, left, right, default_left, value, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Raw scores of rows [lo, hi); trees in the outer loop so each tree's nodes stay in cache."""
    for t in range(roots.shape[0]):
        root = roots[t]
        for r in range(lo, hi):
            node = root
            while feature[node] >= 0:
                v = xt[feature[node], r]
                if v <= threshold[node]:
                    node = left[node]
                elif np.isnan(v):
                    node = left[node] if default_left[node] else right[node]
                else:
                    node = right[node]
            out[r] += value[node]


@numba.njit(cache=True, nogil=True, parallel=True)
def trees_parallel(xt, roots, feature, threshold, left, right, default_left, value, out):  # type: ignore[no-untyped-def]  # pragma: no cover
    n = xt.shape[1]
    block = 16384
    for b in numba.prange((n + block - 1) // block):
        lo = b * block
        hi = min(n, lo + block)
        trees_block(xt, lo, hi, roots, feature, threshold, left, right, default_left, value, out)


@numba.njit(cache=True, nogil=True)
def tree_row(x, roots, feature, threshold, left, right, default_left, value):  # type: ignore[no-untyped-def]  # pragma: no cover
    """The raw score of one row: the online decision's case, without building a matrix.

    Trees are summed in the order ``trees_block`` sums them, so the score is the batch one."""
    raw = 0.0
    for t in range(roots.shape[0]):
        node = roots[t]
        while feature[node] >= 0:
            v = x[feature[node]]
            if v <= threshold[node]:
                node = left[node]
            elif np.isnan(v):
                node = left[node] if default_left[node] else right[node]
            else:
                node = right[node]
        raw += value[node]
    return raw
