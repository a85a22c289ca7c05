"""Quant speed, side by side in one run.

(a) 10,000 moving-average window pairs over 2,520 daily bars: finbridge's vectorised engine vs
    vectorbt (``MA.run`` + ``Portfolio.from_signals``) on the same close series; results must
    agree (max |total return difference| is printed).
(b) event-driven daily backtest, 500 stocks x 2,520 sessions: finbridge with the China A-share
    profile (T+1, limits, lots, min commission, stamp duty), the same strategy with the US
    profile, and backtrader (no A-share rules available there) on the same strategy and data.

Run: ``.venv/bin/python benchmarks/quant_speed.py [--data-dir DIR] [--bt-stocks N]``
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.quant.bt_reference import CrossFraction, run_backtrader  # noqa: E402

from finbridge.quant.backtest import (  # noqa: E402
    CN_ASHARE,
    US,
    MarketData,
    ma_crossover_sweep,
    pair_grid,
    run_backtest,
)
from finbridge.quant.data import load_cn_bars  # noqa: E402


def part_a(data_dir: Path) -> None:
    etf = pl.read_parquet(data_dir / "market" / "us_etfs_428_ohlcv_10y_plus_to_2017.parquet")
    spy = etf.filter(pl.col("ticker") == "SPY").sort("date").tail(2520)
    close = spy["close"].to_numpy().astype(np.float64)
    fast, slow = pair_grid(range(2, 102), range(105, 205))
    assert len(fast) == 10_000 and close.size == 2520
    ma_crossover_sweep(close[:300], fast[:10], slow[:10], fee=0.001)  # JIT / cache load
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        ours = ma_crossover_sweep(close, fast, slow, fee=0.001)
        runs.append(time.perf_counter() - t0)
    ours_s = min(runs)

    import vectorbt as vbt

    series = pd.Series(close, index=pd.DatetimeIndex(spy["date"].to_list()))

    def vbt_run(n: int) -> np.ndarray:
        f = vbt.MA.run(series, fast[:n], short_name="fast")
        s = vbt.MA.run(series, slow[:n], short_name="slow")
        pf = vbt.Portfolio.from_signals(
            series, f.ma_crossed_above(s), f.ma_crossed_below(s), fees=0.001, freq="1D"
        )
        return np.asarray(pf.total_return().to_numpy())

    vbt_run(10)  # warm its numba caches
    t0 = time.perf_counter()
    theirs = vbt_run(len(fast))
    vbt_s = time.perf_counter() - t0
    diff = float(np.max(np.abs(theirs - ours.total_return)))
    print(
        f"(a) 10,000 MA pairs x 2,520 bars: finbridge {ours_s * 1000:.1f} ms (best of 5), "
        f"vectorbt {vbt_s:.2f} s, ratio vectorbt/finbridge {vbt_s / ours_s:.0f}x, "
        f"max |total return diff| {diff:.2e}"
    )
    best = ours.best()
    print(f"    best pair fast={best[0]} slow={best[1]} total return {best[2]:.2%}")


def part_b(data_dir: Path, bt_stocks: int) -> None:
    bars = load_cn_bars(data_dir=data_dir, on_bad="drop")
    bars = bars.filter(pl.col("instrument") != "SH000300")
    sessions = bars["date"].unique().sort()[:2520]
    bars = bars.filter(pl.col("date").is_in(sessions.implode()))
    counts = bars.group_by("instrument").len().sort(["len", "instrument"], descending=[True, False])
    names = counts["instrument"].head(500).to_list()
    bars = bars.filter(pl.col("instrument").is_in(names))
    print(
        f"(b) data: {len(names)} stocks x {sessions.len()} sessions "
        f"({sessions[0]}..{sessions[-1]}), {bars.height:,} bars"
    )
    t0 = time.perf_counter()
    data = MarketData.from_bars(bars)
    prep = time.perf_counter() - t0
    strategy_args = (10, 30, 0.02)
    t0 = time.perf_counter()
    cn = run_backtest(data, CrossFraction(*strategy_args), CN_ASHARE, initial_cash=1e8)
    cn_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    us = run_backtest(data, CrossFraction(*strategy_args), US, initial_cash=1e8)
    us_s = time.perf_counter() - t0
    print(
        f"    finbridge A-share rules: {cn_s:.2f} s (+{prep:.2f} s to build arrays), "
        f"{cn.trades.height:,} fills, {cn.rejections.height:,} rejected orders; "
        f"US profile: {us_s:.2f} s, {us.trades.height:,} fills"
    )
    print("    rejections by reason:", dict(cn.rejections.group_by("reason").len().iter_rows()))
    sub = bars.filter(pl.col("instrument").is_in(names[:bt_stocks]))
    t0 = time.perf_counter()
    run_backtrader(sub, fast=10, slow=30, frac=0.02, cash=1e8, commission=0.0, mincomm=0.0)
    bt_s = time.perf_counter() - t0
    scale = len(names) / bt_stocks
    label = "measured" if bt_stocks == len(names) else f"measured on {bt_stocks} stocks"
    print(
        f"    backtrader (US-like rules, same strategy): {bt_s:.2f} s {label}"
        + ("" if scale == 1 else f", ~{bt_s * scale:.0f} s scaled linearly to {len(names)}")
        + f"; ratio backtrader/finbridge(A-share) ~{bt_s * scale / cn_s:.0f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--bt-stocks", type=int, default=500)
    parser.add_argument("--skip-a", action="store_true")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()}")
    if not args.skip_a:
        part_a(args.data_dir)
    part_b(args.data_dir, args.bt_stocks)


if __name__ == "__main__":
    main()
