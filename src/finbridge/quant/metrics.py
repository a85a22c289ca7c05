"""Performance metrics with empyrical's conventions (252 days, geometric annual return).

Kept in our code (a few lines each) so the engine does not depend on empyrical at run time;
the tests check every figure against empyrical-reloaded.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
YEAR = 252


def cumulative(returns: F64) -> F64:
    return np.asarray(np.cumprod(1.0 + np.nan_to_num(returns)) - 1.0, dtype=np.float64)


def annual_return(returns: F64) -> float:
    if returns.size == 0:
        return float("nan")
    growth = float(np.prod(1.0 + np.nan_to_num(returns)))
    return growth ** (YEAR / returns.size) - 1.0 if growth > 0 else -1.0


def annual_volatility(returns: F64) -> float:
    return float(np.nanstd(returns, ddof=1) * math.sqrt(YEAR))


def sharpe(returns: F64) -> float:
    sd = np.nanstd(returns, ddof=1)
    return float(np.nanmean(returns) / sd * math.sqrt(YEAR)) if sd > 0 else float("nan")


def sortino(returns: F64) -> float:
    downside = math.sqrt(float(np.nanmean(np.minimum(returns, 0.0) ** 2))) * math.sqrt(YEAR)
    return float(np.nanmean(returns) * YEAR / downside) if downside > 0 else float("nan")


def drawdown(returns: F64) -> F64:
    wealth = 1.0 + cumulative(returns)
    peak = np.maximum.accumulate(wealth)
    return wealth / peak - 1.0  # type: ignore[no-any-return]


def max_drawdown(returns: F64) -> float:
    return float(drawdown(returns).min()) if returns.size else float("nan")


def rolling_sharpe(returns: F64, window: int = 63) -> F64:
    out = np.full(returns.size, np.nan)
    for t in range(window - 1, returns.size):
        out[t] = sharpe(returns[t - window + 1 : t + 1])
    return out


def information_ratio(returns: F64, benchmark: F64) -> float:
    active = returns - benchmark
    sd = np.nanstd(active, ddof=1)
    return float(np.nanmean(active) / sd * math.sqrt(YEAR)) if sd > 0 else float("nan")


@dataclass(frozen=True)
class Summary:
    total_return: float
    annual_return: float
    annual_volatility: float
    sharpe: float
    sortino: float
    max_drawdown: float
    calmar: float
    excess_annual_return: float | None
    information_ratio: float | None
    mean_turnover: float
    mean_exposure: float

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


def summarize(
    returns: F64,
    benchmark: F64 | None = None,
    turnover: F64 | None = None,
    exposure: F64 | None = None,
) -> Summary:
    mdd = max_drawdown(returns)
    ann = annual_return(returns)
    return Summary(
        total_return=float(cumulative(returns)[-1]),
        annual_return=ann,
        annual_volatility=annual_volatility(returns),
        sharpe=sharpe(returns),
        sortino=sortino(returns),
        max_drawdown=mdd,
        calmar=ann / abs(mdd) if mdd < 0 else float("nan"),
        excess_annual_return=None if benchmark is None else ann - annual_return(benchmark),
        information_ratio=None if benchmark is None else information_ratio(returns, benchmark),
        mean_turnover=float(np.mean(turnover)) if turnover is not None else 0.0,
        mean_exposure=float(np.mean(exposure)) if exposure is not None else 0.0,
    )
