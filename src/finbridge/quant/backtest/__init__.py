"""Backtesting: a vectorised engine for sweeps and an event-driven engine with market rules."""

from finbridge.quant.backtest.engine import (
    BacktestResult,
    Context,
    Order,
    Strategy,
    run_backtest,
)
from finbridge.quant.backtest.market import MarketData
from finbridge.quant.backtest.rules import (
    CN_ASHARE,
    PROFILES,
    UK,
    US,
    MarketProfile,
    load_profile,
    profile_named,
)
from finbridge.quant.backtest.strategies import (
    STRATEGIES,
    BuyAndHold,
    MACrossover,
    TopKDropout,
    make_strategy,
)
from finbridge.quant.backtest.vector import SweepResult, ma_crossover_sweep, pair_grid

__all__ = [
    "CN_ASHARE",
    "PROFILES",
    "STRATEGIES",
    "UK",
    "US",
    "BacktestResult",
    "BuyAndHold",
    "Context",
    "MACrossover",
    "MarketData",
    "MarketProfile",
    "Order",
    "Strategy",
    "SweepResult",
    "TopKDropout",
    "load_profile",
    "ma_crossover_sweep",
    "make_strategy",
    "pair_grid",
    "profile_named",
    "run_backtest",
]
