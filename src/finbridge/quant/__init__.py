"""Quantitative investment: point-in-time market data, factors, alpha models, backtests.

Layers as in Qlib: data (:mod:`.data`) -> factor expressions (:mod:`.factors`) -> models
(:mod:`.models`, :mod:`.evaluation`) -> strategies and backtests (:mod:`.backtest`) -> analysis
(:mod:`.tearsheet`). Nothing here imports a web framework or the CLI.
"""

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

__all__ = [
    "CSI300_INDEX",
    "SURVIVORSHIP_NOTE",
    "BarStore",
    "Membership",
    "calendar_gaps",
    "load_cn_bars",
    "load_us_bars",
    "trading_days",
    "validate_bars",
]
