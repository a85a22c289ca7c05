"""Backtests: rule sets replayed point in time on stored decisions or on a transaction file."""

from finbridge.risk.backtest._backtest import (
    BacktestReport,
    ReplayResult,
    RuleHits,
    backtest_frame,
    backtest_history,
    backtest_stored,
    history_frame,
    replay_file,
    replay_handbook,
)

__all__ = [
    "BacktestReport",
    "ReplayResult",
    "RuleHits",
    "backtest_frame",
    "backtest_history",
    "backtest_stored",
    "history_frame",
    "replay_file",
    "replay_handbook",
]
