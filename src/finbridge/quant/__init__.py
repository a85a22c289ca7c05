"""Quantitative investment: point-in-time market data, factors, alpha models, backtests.

Layers as in Qlib: data (:mod:`.data`) -> factor expressions (:mod:`.factors`) -> models
(:mod:`.models`, :mod:`.evaluation`) -> strategies and backtests (:mod:`.backtest`) -> analysis
(:mod:`.metrics`, :mod:`.tearsheet`); :mod:`.config`/:mod:`.runner`/:mod:`.service` run a
validated config end to end. Nothing here imports a web framework or the CLI.

A notebook session::

    from finbridge import quant as q
    bars = q.load_cn_bars(start=date(2016, 1, 1))
    feats = q.FactorEngine().compute(bars, {"mom5": "ref(close, 5) / close"})
    result = q.run_backtest(q.MarketData.from_bars(bars, benchmark="SH000300"),
                            q.MACrossover(5, 20), q.CN_ASHARE)
    html = q.render_tearsheet(result)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from finbridge.quant.backtest import (
        CN_ASHARE,
        STRATEGIES,
        US,
        BacktestResult,
        Context,
        MACrossover,
        MarketData,
        MarketProfile,
        Strategy,
        TopKDropout,
        ma_crossover_sweep,
        make_strategy,
        pair_grid,
        run_backtest,
    )
    from finbridge.quant.data import (
        CSI300_INDEX,
        SURVIVORSHIP_NOTE,
        BarStore,
        Membership,
        calendar_gaps,
        load_cn_bars,
        load_us_bars,
        trading_days,
        validate_bars,
    )
    from finbridge.quant.evaluation import ic_decay, ic_series, quantile_returns, summarize
    from finbridge.quant.factors import (
        ALPHA158,
        ALPHA158_LABEL,
        FactorEngine,
        LookAheadError,
        ProcessorChain,
        compute_label,
    )
    from finbridge.quant.models import (
        MODELS,
        Dataset,
        LinearAlpha,
        WalkForward,
        fit_predict,
        make_model,
    )
    from finbridge.quant.tearsheet import render_tearsheet

# Public names load lazily (PEP 562): importing finbridge.quant.tables for migrations must not
# pull in numba, scikit-learn and LightGBM (seconds of start-up for every process).
_EXPORTS: dict[str, str] = {
    "CN_ASHARE": "finbridge.quant.backtest",
    "STRATEGIES": "finbridge.quant.backtest",
    "US": "finbridge.quant.backtest",
    "BacktestResult": "finbridge.quant.backtest",
    "Context": "finbridge.quant.backtest",
    "MACrossover": "finbridge.quant.backtest",
    "MarketData": "finbridge.quant.backtest",
    "MarketProfile": "finbridge.quant.backtest",
    "Strategy": "finbridge.quant.backtest",
    "TopKDropout": "finbridge.quant.backtest",
    "ma_crossover_sweep": "finbridge.quant.backtest",
    "make_strategy": "finbridge.quant.backtest",
    "pair_grid": "finbridge.quant.backtest",
    "run_backtest": "finbridge.quant.backtest",
    "CSI300_INDEX": "finbridge.quant.data",
    "SURVIVORSHIP_NOTE": "finbridge.quant.data",
    "BarStore": "finbridge.quant.data",
    "Membership": "finbridge.quant.data",
    "calendar_gaps": "finbridge.quant.data",
    "load_cn_bars": "finbridge.quant.data",
    "load_us_bars": "finbridge.quant.data",
    "trading_days": "finbridge.quant.data",
    "validate_bars": "finbridge.quant.data",
    "ic_decay": "finbridge.quant.evaluation",
    "ic_series": "finbridge.quant.evaluation",
    "quantile_returns": "finbridge.quant.evaluation",
    "summarize": "finbridge.quant.evaluation",
    "ALPHA158": "finbridge.quant.factors",
    "ALPHA158_LABEL": "finbridge.quant.factors",
    "FactorEngine": "finbridge.quant.factors",
    "LookAheadError": "finbridge.quant.factors",
    "ProcessorChain": "finbridge.quant.factors",
    "compute_label": "finbridge.quant.factors",
    "MODELS": "finbridge.quant.models",
    "Dataset": "finbridge.quant.models",
    "LinearAlpha": "finbridge.quant.models",
    "WalkForward": "finbridge.quant.models",
    "fit_predict": "finbridge.quant.models",
    "make_model": "finbridge.quant.models",
    "render_tearsheet": "finbridge.quant.tearsheet",
}

__all__ = [
    "ALPHA158",
    "ALPHA158_LABEL",
    "CN_ASHARE",
    "CSI300_INDEX",
    "MODELS",
    "STRATEGIES",
    "SURVIVORSHIP_NOTE",
    "US",
    "BacktestResult",
    "BarStore",
    "Context",
    "Dataset",
    "FactorEngine",
    "LinearAlpha",
    "LookAheadError",
    "MACrossover",
    "MarketData",
    "MarketProfile",
    "Membership",
    "ProcessorChain",
    "Strategy",
    "TopKDropout",
    "WalkForward",
    "calendar_gaps",
    "compute_label",
    "fit_predict",
    "ic_decay",
    "ic_series",
    "load_cn_bars",
    "load_us_bars",
    "ma_crossover_sweep",
    "make_model",
    "make_strategy",
    "pair_grid",
    "quantile_returns",
    "render_tearsheet",
    "run_backtest",
    "summarize",
    "trading_days",
    "validate_bars",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'finbridge.quant' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
