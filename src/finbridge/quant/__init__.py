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
