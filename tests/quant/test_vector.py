from __future__ import annotations

import numpy as np
import pytest

from finbridge.core.errors import ValidationError
from finbridge.quant.backtest import ma_crossover_sweep, pair_grid
from finbridge.quant.backtest.vector import moving_averages
from finbridge.quant.data import load_us_bars


def naive(close: np.ndarray, fast: int, slow: int, fee: float) -> float:
    """Plain-Python reference: all-in on an up-cross at the close, out on a down-cross."""
    f = [
        np.mean(close[t - fast + 1 : t + 1]) if t >= fast - 1 else np.nan for t in range(len(close))
    ]
    s = [
        np.mean(close[t - slow + 1 : t + 1]) if t >= slow - 1 else np.nan for t in range(len(close))
    ]
    cash, shares = 1.0, 0.0
    for t in range(1, len(close)):
        if np.isnan(s[t - 1]):
            continue
        if shares == 0 and f[t] > s[t] and f[t - 1] <= s[t - 1]:
            shares = cash / (close[t] * (1 + fee))
            cash = 0.0
        elif shares > 0 and f[t] < s[t] and f[t - 1] >= s[t - 1]:
            cash = shares * close[t] * (1 - fee)
            shares = 0.0
    return cash + shares * close[-1] - 1.0


def test_sweep_matches_a_plain_python_reference() -> None:
    close = load_us_bars(["KO"])["close"].to_numpy()
    fast, slow = pair_grid([3, 5, 8], [20, 40])
    result = ma_crossover_sweep(close, fast, slow, fee=0.001)
    for k in range(len(fast)):
        assert result.total_return[k] == pytest.approx(
            naive(close, fast[k], slow[k], 0.001), rel=1e-9
        )
    assert result.n_entries.min() > 0 and np.isfinite(result.sharpe).all()
    assert result.best()[2] == pytest.approx(result.total_return.max())


def test_prefix_sum_moving_averages_equal_direct_means() -> None:
    close = np.linspace(1, 2, 50)
    ma = moving_averages(close, [1, 7, 50, 60])
    assert ma[1, 10] == pytest.approx(close[4:11].mean())
    assert ma[2, 49] == pytest.approx(close.mean())
    assert np.isnan(ma[3]).all()


def test_bad_sweep_inputs() -> None:
    with pytest.raises(ValidationError, match="finite and positive"):
        moving_averages(np.array([1.0, 0.0, 2.0]), [2])
    with pytest.raises(ValidationError, match="equally long"):
        ma_crossover_sweep(np.ones(10), [2], [3, 4])
