"""Alpha quality on Qlib's CSI 300 protocol, adapted to the data's start (2010).

Train 2010-01-01..2014-12-31, validate 2015-01-01..2016-12-31 (early stopping), test
2017-01-01..2020-08-01. Features: finbridge's Alpha158 expressions; label
Ref(close,-2)/Ref(close,-1)-1 (cross-sectionally z-scored for training as Alpha158's
default learn processors do, raw for IC).
Universe: point-in-time CSI 300 members. Backtest: TopK-Dropout 50/5 on the event engine, deal
at the close, 5 bp buy / 15 bp sell, minimum 5 CNY, 100-share lots, price limits, T+1, 1e8 CNY,
vs the CSI 300 index. Metrics use Qlib's conventions (daily mean x 238, IR = mean/std x
sqrt(238), max drawdown of the cumulative sum of excess returns).

Run: ``.venv/bin/python benchmarks/quant_alpha.py [--data-dir DIR] [--threads 2]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time
from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl

from finbridge.quant.backtest import CN_ASHARE, MarketData, TopKDropout, run_backtest
from finbridge.quant.data import CSI300_INDEX, SURVIVORSHIP_NOTE, Membership, load_cn_bars
from finbridge.quant.evaluation import ic_decay, ic_series, quantile_returns, summarize
from finbridge.quant.factors import ALPHA158, ALPHA158_LABEL, FactorEngine, compute_label
from finbridge.quant.factors.processors import (
    CSRankNorm,
    CSZScore,
    FillNa,
    ProcessorChain,
    ZScore,
)
from finbridge.quant.models import QLIB_LGBM_PARAMS, LinearAlpha

ROOT = Path(__file__).resolve().parents[1]
TRAIN = (dt.date(2010, 1, 1), dt.date(2014, 12, 31))
VALID = (dt.date(2015, 1, 1), dt.date(2016, 12, 31))
TEST = (dt.date(2017, 1, 1), dt.date(2020, 8, 1))
QLIB = {"IC": 0.0448, "ICIR": 0.366, "Rank IC": None, "excess": 0.090, "IR": 1.02, "MDD": -0.104}
N = 238  # Qlib's trading days per year


def risk(r: np.ndarray) -> dict[str, float]:
    cum = np.cumsum(r)
    return {
        "annualised": float(r.mean() * N),
        "IR": float(r.mean() / r.std(ddof=1) * np.sqrt(N)),
        "MDD": float((cum - np.maximum.accumulate(cum)).min()),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "datasets")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache-dir", type=Path, default=None, help="reuse computed factors")
    parser.add_argument(
        "--label-norm",
        choices=["zscore", "rank"],
        default="zscore",
        help="training-label normalisation per day: zscore is Alpha158's default (the protocol)",
    )
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}; training label norm: {args.label_norm}")
    print(SURVIVORSHIP_NOTE)

    t0 = time.perf_counter()
    bars = load_cn_bars(end=dt.date(2020, 8, 31), data_dir=args.data_dir, on_bad="drop")
    stocks = bars.filter(pl.col("instrument") != CSI300_INDEX)
    print(
        f"bars: {stocks.height:,} rows, {stocks['instrument'].n_unique()} stocks "
        f"({time.perf_counter() - t0:.1f} s)"
    )

    t0, c0 = time.perf_counter(), time.process_time()
    features = FactorEngine(cache_dir=args.cache_dir).compute(stocks, ALPHA158)
    t_factors, c_factors = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"Alpha158: {len(ALPHA158)} factors x {features.height:,} rows in {t_factors:.1f} s "
        f"wall, {c_factors:.1f} s CPU (all threads)"
    )
    labels = compute_label(stocks, ALPHA158_LABEL)
    members = Membership.csi300(args.data_dir)
    frame = features.join(labels, on=["instrument", "date"]).filter(members.mask(features))
    names = list(ALPHA158)

    def part(window: tuple[dt.date, dt.date], *, train: bool) -> pl.DataFrame:
        out = frame.filter(pl.col("date").is_between(*window))
        if train:  # Alpha158's default learn processors: DropnaLabel, CSZScoreNorm(label)
            out = out.filter(pl.col("label").is_finite())
            norm = CSZScore if args.label_norm == "zscore" else CSRankNorm
            out = norm(columns=("label",)).transform(out)
        return out

    tr, va, te = part(TRAIN, train=True), part(VALID, train=True), part(TEST, train=False)
    print(f"rows: train {tr.height:,}, valid {va.height:,}, test {te.height:,}")

    def xy(p: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        return p.select(names).to_numpy().astype(np.float32), p["label"].to_numpy()

    t0 = time.perf_counter()
    model = lgb.LGBMRegressor(
        **QLIB_LGBM_PARAMS, n_estimators=1000, n_jobs=args.threads, verbose=-1
    )
    x_tr, y_tr = xy(tr)
    x_va, y_va = xy(va)
    model.fit(
        x_tr, y_tr, eval_X=(x_va,), eval_y=(y_va,),
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )  # fmt: skip
    print(f"LightGBM: {model.best_iteration_} trees, {time.perf_counter() - t0:.1f} s")

    lgb_scores = te.select("instrument", "date").with_columns(
        score=pl.Series(model.predict(te.select(names).to_numpy().astype(np.float32)))
    )
    # The linear model on the same features, z-scored with training moments (missing -> 0).
    t0 = time.perf_counter()
    chain = ProcessorChain([ZScore(), FillNa()]).fit(tr.drop("label"), start=TRAIN[0], end=TRAIN[1])
    linear = LinearAlpha(alpha=10.0).fit(
        chain.transform(tr.drop("label")).select(names).to_numpy(), tr["label"].to_numpy()
    )
    lin_scores = te.select("instrument", "date").with_columns(
        score=pl.Series(linear.predict(chain.transform(te.drop("label")).select(names).to_numpy()))
    )
    print(f"linear (ridge): {time.perf_counter() - t0:.1f} s")

    test_bars = bars.filter(pl.col("date").is_between(TEST[0], TEST[1]))
    # Qlib's costs: 5 bp buy, 15 bp sell (stamp duty included), minimum 5 CNY.
    profile = CN_ASHARE.with_costs(
        commission_buy=0.0005, commission_sell=0.0015, min_commission=5.0, stamp_duty=()
    )
    reports = {}
    for label, scores in (("LightGBM", lgb_scores), ("linear", lin_scores)):
        sig = summarize(ic_series(scores, te))
        t0 = time.perf_counter()
        data = MarketData.from_bars(test_bars, benchmark=CSI300_INDEX, signal=scores)
        result = run_backtest(
            data, TopKDropout(topk=50, n_drop=5), profile, initial_cash=1e8, fill="close"
        )
        t_bt = time.perf_counter() - t0
        excess = (result.returns - result.benchmark_returns)[1:]  # type: ignore[operator]
        n = len(result.equity)
        geo = (result.equity[-1] / 1e8) ** (252 / n) - 1
        bench_geo = (result.benchmark[-1] / result.benchmark[0]) ** (252 / n) - 1  # type: ignore[index]
        q = quantile_returns(scores, te, top_k=50)
        decay = ic_decay(scores, test_bars.filter(pl.col("instrument") != CSI300_INDEX))
        print(
            f"\n[{label}] backtest: {n} sessions, {result.trades.height:,} fills, "
            f"{result.rejections.height:,} rejected ({t_bt:.1f} s); mean daily turnover "
            f"{result.turnover.mean():.2%}; CAGR {geo:.2%} vs CSI 300 {bench_geo:.2%}"
        )
        print(f"  rejections: {dict(result.rejections.group_by('reason').len().iter_rows())}")
        print(
            f"  daily mean label return: long-short (top-bottom quintile) "
            f"{q['long_short'].mean():.4%}, top-50 {q['topk'].mean():.4%}, "
            f"universe {q['market'].mean():.4%}"
        )
        print("  IC decay (horizon: IC): " + ", ".join(
            f"{h}d {v:.4f}" for h, v in zip(decay["horizon"], decay["ic"], strict=True)
        ))  # fmt: skip
        reports[label] = (sig, risk(excess))

    rows = [
        ("IC", lambda s, e: s.ic, QLIB["IC"]),
        ("ICIR", lambda s, e: s.icir, QLIB["ICIR"]),
        ("Rank IC", lambda s, e: s.rank_ic, None),
        ("Rank ICIR", lambda s, e: s.rank_icir, None),
        (
            "annualised excess return (x238, with cost)",
            lambda s, e: e["annualised"],
            QLIB["excess"],
        ),
        ("information ratio", lambda s, e: e["IR"], QLIB["IR"]),
        ("max drawdown (excess, cumsum)", lambda s, e: e["MDD"], QLIB["MDD"]),
    ]
    print(f"\n{'metric':45s} {'LightGBM':>10s} {'linear':>10s} {'Qlib LGB':>9s}")
    for name, get, theirs in rows:
        ours = [get(*reports[k]) for k in ("LightGBM", "linear")]
        shown = "-" if theirs is None else f"{theirs:.4f}"
        print(f"{name:45s} {ours[0]:10.4f} {ours[1]:10.4f} {shown:>9s}")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
