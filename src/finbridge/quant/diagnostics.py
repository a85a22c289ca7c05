"""Warnings a backtest must carry when its result is not what its strategy would have done.

A run whose orders mostly do not fill, whose fills stop early (the rest is buy-and-hold of what
was held then), whose moving-average signals imply far more trades than it made, or whose bars
have many holes, still produces plausible figures: these checks put the reason beside them, in
the run's summary and on its tear sheet.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from finbridge.quant.backtest.engine import BacktestResult
from finbridge.quant.backtest.market import MarketData
from finbridge.quant.backtest.strategies import MACrossover

REJECTED_SHARE = 0.10  # of the orders placed
MIN_REJECTED = 5
EARLY_STOP = 0.5  # last fill before this share of the sessions
TRADED_SHARE = 0.5  # fills below this share of the trades the signals imply
HOLE_SHARE = 0.02  # instrument-sessions without a price


def _rejections(result: BacktestResult) -> list[str]:
    rej = result.rejections
    # "reduced" orders still filled (smaller); they are not missed trades.
    missed = [r for r in rej["reason"].to_list() if not str(r).startswith("reduced")]
    orders = result.trades.height + len(missed)
    if len(missed) < MIN_REJECTED or len(missed) < REJECTED_SHARE * orders:
        return []
    reasons = ", ".join(f"{k} {v}" for k, v in Counter(missed).most_common())
    out = [f"{len(missed)} of {orders} orders did not fill ({reasons})"]
    if Counter(missed).most_common(1)[0][0] == "suspended":
        out[0] += (
            "; an instrument without a price on a session counts as suspended: check that the "
            "data's calendar is the market's"
        )
    return out


def _early_stop(result: BacktestResult, strategy: Any) -> list[str]:
    if getattr(strategy, "name", "") == "buy_and_hold":
        return []
    n = len(result.dates)
    if result.trades.is_empty():
        return [f"no order filled in {n} sessions: the result is all cash"]
    last = max(result.trades["date"].to_list())
    at = result.dates.index(last) + 1 if last in result.dates else n
    if at >= EARLY_STOP * n:
        return []
    return [
        f"the last fill was on {last}, {at / n:.0%} of the way through the run: for the other "
        f"{n - at} sessions the figures are buy-and-hold of the positions held then"
    ]


def _crossings(closes: np.ndarray, fast: int, slow: int) -> int:
    """MA crossings over one instrument's closes with the gaps closed up (what the signals
    imply on complete data)."""
    s = closes[~np.isnan(closes)]
    if len(s) < slow + 1:
        return 0
    c = np.cumsum(np.insert(s, 0, 0.0))
    fast_ma = (c[fast:] - c[:-fast])[slow - fast :] / fast
    slow_ma = (c[slow:] - c[:-slow]) / slow
    above = fast_ma > slow_ma
    return int(np.count_nonzero(above[1:] != above[:-1]))


def _implied(result: BacktestResult, data: MarketData, strategy: Any) -> list[str]:
    if not isinstance(strategy, MACrossover):
        return []
    fills = Counter(result.trades["instrument"].to_list())
    short = []
    for k, name in enumerate(data.instruments):
        implied = _crossings(data.close[:, k], strategy.fast, strategy.slow)
        if implied >= 4 and fills[name] < TRADED_SHARE * implied:
            short.append((name, fills[name], implied))
    if not short:
        return []
    shown = ", ".join(f"{n}: {f} of ~{i}" for n, f, i in short[:5])
    return [
        f"for {len(short)} of {len(data.instruments)} instruments the MA "
        f"{strategy.fast}/{strategy.slow} crossings imply far more trades than filled "
        f"({shown}): missing prices blank every moving average that spans them"
    ]


def _holes(data: MarketData) -> list[str]:
    present = ~np.isnan(data.close)
    seen = np.maximum.accumulate(present, axis=0)
    later = np.flip(np.maximum.accumulate(np.flip(present, 0), axis=0), 0)
    listed = seen & later  # inside each instrument's own first..last bar
    holes = int(np.count_nonzero(listed & ~present))
    cells = int(np.count_nonzero(listed))
    if not cells or holes < HOLE_SHARE * cells:
        return []
    return [
        f"{holes} of {cells} instrument-sessions ({holes / cells:.1%}) have no price: nothing "
        "trades on them and signals spanning them are blank"
    ]


def run_warnings(result: BacktestResult, data: MarketData, strategy: Any) -> list[str]:
    """Every warning that applies to a finished run, most telling first."""
    return [
        *_implied(result, data, strategy),
        *_early_stop(result, strategy),
        *_rejections(result),
        *_holes(data),
    ]
