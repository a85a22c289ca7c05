"""Quantitative investment: point-in-time market data, factors, alpha models, backtests.

Layers as in Qlib: data (:mod:`.data`) -> factor expressions (:mod:`.factors`) -> models
(:mod:`.models`, :mod:`.evaluation`) -> strategies and backtests (:mod:`.backtest`) -> analysis
(:mod:`.metrics`, :mod:`.tearsheet`); :mod:`.config` and :mod:`.runner` run a validated config
end to end. Nothing here imports a web framework or the CLI.

This face is what interfaces use: :class:`QuantService` (built once per platform by
:meth:`QuantService.build`), its run records and the run config. It stays light: numba,
scikit-learn and LightGBM load when a backtest or a factor set is first computed. A notebook
imports the layers themselves::

    from finbridge.quant.backtest import CN_ASHARE, MACrossover, MarketData, run_backtest
    from finbridge.quant.data import load_cn_bars
    from finbridge.quant.factors import FactorEngine
    bars = load_cn_bars(start=date(2016, 1, 1))
    feats = FactorEngine().compute(bars, {"mom5": "ref(close, 5) / close"})
    result = run_backtest(MarketData.from_bars(bars, benchmark="SH000300"),
                          MACrossover(5, 20), CN_ASHARE)
"""

from finbridge.quant.config import (
    MODEL_NAMES,
    STRATEGY_NAMES,
    BacktestConfig,
    load_config,
    parse_config,
)
from finbridge.quant.service import QuantRun, QuantService

__all__ = [
    "MODEL_NAMES",
    "STRATEGY_NAMES",
    "BacktestConfig",
    "QuantRun",
    "QuantService",
    "load_config",
    "parse_config",
]
