"""Run a validated :class:`BacktestConfig` end to end: data -> signal -> backtest -> tear sheet."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import polars as pl

from finbridge.core.errors import NotFound, ValidationError
from finbridge.quant.backtest import (
    PROFILES,
    MarketData,
    make_strategy,
    profile_named,
    run_backtest,
)
from finbridge.quant.backtest.engine import BacktestResult
from finbridge.quant.config import BacktestConfig
from finbridge.quant.data import SURVIVORSHIP_NOTE, Membership, load_cn_bars, load_us_bars
from finbridge.quant.diagnostics import run_warnings
from finbridge.quant.evaluation import ic_decay, ic_series, quantile_returns, summarize
from finbridge.quant.factors import (
    ALPHA158,
    ALPHA158_LABEL,
    FactorEngine,
    LookAheadError,
    compute_label,
    max_lookback,
)
from finbridge.quant.factors.processors import (
    CSRankNorm,
    CSZScore,
    FillNa,
    Processor,
    ProcessorChain,
    Winsorize,
    ZScore,
)
from finbridge.quant.imports import MarketInfo, MarketStore
from finbridge.quant.metrics import summarize as perf_summary
from finbridge.quant.models import Dataset, WalkForward, fit_predict, make_model
from finbridge.quant.tearsheet import render_tearsheet

PROCESSORS: dict[str, Callable[[], Processor]] = {
    "winsorize": Winsorize,
    "zscore": ZScore,
    "cs_zscore": CSZScore,
    "cs_rank": CSRankNorm,
    "fillna": FillNa,
}


@dataclass(frozen=True)
class RunOutcome:
    result: BacktestResult
    summary: dict[str, Any]
    tearsheet_html: str


def _load(config: BacktestConfig, start: dt.date, imported: ImportedMarket | None) -> pl.DataFrame:
    d = config.data
    names = None if d.instruments is None else list(d.instruments)
    if names is not None and config.benchmark and config.benchmark not in names:
        names.append(config.benchmark)
    try:
        if imported is not None:
            return imported.store.load(imported.info.name, names, start, d.end)
        if config.market == "cn":
            return load_cn_bars(names, start, d.end, data_dir=d.data_dir, on_bad="drop")
        return load_us_bars(names, start, d.end, kind=d.kind, data_dir=d.data_dir, on_bad="drop")
    except NotFound as exc:
        # In a run config an unknown symbol is bad input (422 naming the field), not a 404.
        raise ValidationError(exc.detail, field="data.instruments") from None


def _signal(
    config: BacktestConfig, bars: pl.DataFrame, factors_engine: FactorEngine
) -> tuple[pl.DataFrame, pl.DataFrame]:
    sig = config.signal
    assert sig is not None
    if sig.feature_window_end > 0:
        raise LookAheadError(
            f"feature window ends {sig.feature_window_end} session(s) after the decision time",
            field="signal.feature_window_end",
        )
    factors = ALPHA158 if sig.factors == "alpha158" else dict(sig.factors)
    stocks = bars.filter(pl.col("instrument") != (config.benchmark or ""))
    features = factors_engine.compute(stocks, factors)  # refuses look-ahead expressions
    if sig.processors:
        steps = [PROCESSORS[name]() for name in sig.processors]
        chain = ProcessorChain(steps).fit(features, start=sig.train.start, end=sig.train.end)
        features = chain.transform(features)
    data = Dataset.build(features, compute_label(stocks, ALPHA158_LABEL))
    if sig.walk_forward is not None:
        wf = WalkForward(
            model=sig.model,
            mode=sig.walk_forward.mode,
            train_years=sig.walk_forward.train_years,
            step_months=sig.walk_forward.step_months,
            params=tuple(sig.model_params.items()),
        )
        scores = wf.run(data, config.data.start, config.data.end, earliest=sig.train.start)
        return scores, data.frame.select("instrument", "date", "label")
    model = make_model(sig.model, **sig.model_params)
    scores = fit_predict(
        model,
        data,
        train=(sig.train.start, sig.train.end),
        test=(config.data.start, config.data.end),
    )
    return scores, data.frame.select("instrument", "date", "label")


def _signal_stats(
    config: BacktestConfig,
    scores: pl.DataFrame,
    labels: pl.DataFrame,
    ic: pl.DataFrame,
    bars: pl.DataFrame,
) -> dict[str, float]:
    """IC summary, IC decay and quantile returns of the signal, flat for JSON."""
    stats = {k.lower().replace(" ", "_"): v for k, v in summarize(ic).as_dict().items()}
    top_k = int(config.strategy.params.get("topk") or 10)  # type: ignore[arg-type]
    q = quantile_returns(scores, labels, top_k=top_k)
    stats["long_short_daily"] = float(q["long_short"].mean() or float("nan"))  # type: ignore[arg-type]
    stats[f"top{top_k}_daily"] = float(q["topk"].mean() or float("nan"))  # type: ignore[arg-type]
    stats["universe_daily"] = float(q["market"].mean() or float("nan"))  # type: ignore[arg-type]
    stocks = bars.filter(pl.col("instrument") != (config.benchmark or ""))
    decay = ic_decay(scores, stocks, horizons=(1, 2, 5, 10, 20))
    for h, v in zip(decay["horizon"], decay["ic"], strict=True):
        stats[f"ic_{h}d"] = float(v)
    return stats


_NOT_CLOSE = re.compile(r"\b(open|high|low|volume|vwap|factor)\b")


def _closes_only(factors: dict[str, str], market: str) -> None:
    """A close-only market has no open, high, low or volume: factors reading them would be
    computed on copies of the close (and a zero volume), a plausible but wrong signal."""
    needing = sorted(name for name, text in factors.items() if _NOT_CLOSE.search(text))
    if needing:
        raise ValidationError(
            f"market {market} is close-only, but {len(needing)} factors read open, high, low "
            f"or volume (first: {', '.join(needing[:5])}); use factors on close only, or "
            "import a file with OHLCV columns",
            field="signal.factors",
        )


@dataclass(frozen=True)
class ImportedMarket:
    """A market the user imported: where its bars are and what its import recorded."""

    store: MarketStore
    info: MarketInfo


def run_config(
    config: BacktestConfig,
    factors_engine: FactorEngine | None = None,
    *,
    imported: ImportedMarket | None = None,
) -> RunOutcome:
    """Execute a config; raises finbridge errors for bad data, look-ahead or unknown names.

    ``imported`` is the market of the config when it is not a bundled one (cn, us)."""
    if imported is None and config.market not in PROFILES:
        raise ValidationError(f"unknown market {config.market!r}", field="market")
    start = config.data.start
    if config.signal is not None:
        factors = ALPHA158 if config.signal.factors == "alpha158" else config.signal.factors
        if imported is not None and imported.info.close_only:
            _closes_only(factors, imported.info.name)
        warmup = dt.timedelta(days=int(max_lookback(factors) * 1.6) + 10)
        start = config.signal.train.start - warmup
    bars = _load(config, start, imported)
    scores = labels = None
    if config.signal is not None:
        scores, labels = _signal(config, bars, factors_engine or FactorEngine())
    trade_bars = bars.filter(pl.col("date") >= config.data.start)
    if config.data.universe == "csi300":
        # Point in time: scores exist only for members on each date (a name that leaves the
        # index can still be sold: its bars stay). Without a signal, the universe is the
        # membership on the first backtest date.
        members = Membership.csi300(config.data.data_dir)
        if scores is not None:
            scores = members.restrict(scores)
        else:
            first = trade_bars["date"].min()
            allowed = {*members.members_on(first), config.benchmark or ""}  # type: ignore[arg-type]
            trade_bars = trade_bars.filter(pl.col("instrument").is_in(list(allowed)))
    calendar = imported.info.calendar if imported is not None else config.market
    market = MarketData.from_bars(
        trade_bars, benchmark=config.benchmark, signal=scores, calendar=calendar
    )
    if config.profile is not None:
        profile = profile_named(config.profile)
    elif imported is not None:
        profile = imported.store.profile(imported.info)
    else:
        profile = profile_named(config.market)
    costs = {
        k: v for k, v in config.costs.model_dump().items() if v is not None and k != "stamp_duty"
    }
    profile = profile.with_costs(**costs)
    if not config.costs.stamp_duty:
        profile = replace(profile, stamp_duty=(), buy_tax=())
    strategy = make_strategy(config.strategy.name, **config.strategy.params)
    result = run_backtest(
        market,
        strategy,
        profile,
        initial_cash=config.initial_cash,
        fill=config.fill,
        on_insufficient_cash=config.on_insufficient_cash,
    )
    perf = perf_summary(
        result.returns, result.benchmark_returns, result.turnover, result.gross_exposure
    )
    summary: dict[str, Any] = {
        **perf.as_dict(),
        "final_equity": str(result.final_equity.amount),
        "currency": result.currency,
        "fills": result.trades.height,
        "rejections": result.rejections.height,
    }
    ic = signal_stats = None
    if scores is not None and labels is not None:
        # Measured on the traded universe (after the point-in-time restriction).
        ic = ic_series(scores, labels)
        signal_stats = _signal_stats(config, scores, labels, ic, trade_bars)
        summary.update(signal_stats)
    notes = [SURVIVORSHIP_NOTE] if config.market == "cn" else []
    if imported is not None:
        notes += imported.info.notes()
    if notes:
        summary["data_note"] = "; ".join(notes)
    warnings = run_warnings(result, market, strategy)
    summary["warnings"] = warnings
    html_page = render_tearsheet(
        result, title=config.name, ic=ic, notes=[*(f"WARNING: {w}" for w in warnings), *notes],
        signal=signal_stats,
    )  # fmt: skip
    return RunOutcome(result, summary, html_page)
