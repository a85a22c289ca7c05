"""Same strategy, same data, same costs: finbridge's event engine (US profile) vs backtrader."""

from __future__ import annotations

import pytest
from tests.quant.bt_reference import CrossFraction, run_backtrader

from finbridge.quant.backtest import US, MarketData, run_backtest
from finbridge.quant.data import load_us_bars

CASH, COMMISSION, MINCOMM = 100_000.0, 0.001, 1.0


@pytest.mark.parametrize(("fast", "slow"), [(5, 20), (10, 40)])
def test_same_trades_and_final_equity_as_backtrader(fast: int, slow: int) -> None:
    bars = load_us_bars(["AAPL", "JPM", "MSFT", "XOM"])
    profile = US.with_costs(
        commission_buy=COMMISSION, commission_sell=COMMISSION, min_commission=MINCOMM
    )
    ours = run_backtest(
        MarketData.from_bars(bars), CrossFraction(fast, slow, 0.3), profile, initial_cash=CASH
    )
    bt_value, bt_fills = run_backtrader(
        bars, fast=fast, slow=slow, frac=0.3, cash=CASH, commission=COMMISSION, mincomm=MINCOMM
    )
    our_fills = [
        (r["date"], r["instrument"], r["side"], r["quantity"], r["price"], r["commission"])
        for r in ours.trades.iter_rows(named=True)
    ]
    assert len(our_fills) == len(bt_fills) > 20
    for mine, theirs in zip(
        our_fills, sorted(bt_fills, key=lambda f: (f[0], f[2] == "buy")), strict=True
    ):
        assert mine[:4] == theirs[:4]
        assert mine[4] == pytest.approx(theirs[4], rel=1e-9)
        assert mine[5] == pytest.approx(theirs[5], rel=1e-9)
    assert float(ours.equity[-1]) == pytest.approx(bt_value, rel=1e-6)
