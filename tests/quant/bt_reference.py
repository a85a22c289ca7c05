"""The same user-defined strategy written for finbridge and for backtrader (the reference).

Shared by the parity test and ``benchmarks/quant_speed.py``: per instrument, on a fast/slow SMA
up-cross buy ``int(frac * cash / close)`` shares; on a down-cross close the position. Sells are
placed before buys each session. Orders fill at the next session's open.
"""

from __future__ import annotations

import datetime as dt

import backtrader as bt
import numpy as np
import pandas as pd
import polars as pl

from finbridge.quant.backtest import Context, Strategy

# Moving averages summed in a different order differ in the last bits; an exact tie (it happens:
# JPM 2016-02-18) must not count as a cross in one engine and not the other.
TIE = 1e-9


class CrossFraction(Strategy):
    """A user-defined strategy (subclass API)."""

    name = "cross_fraction"

    def __init__(self, fast: int, slow: int, frac: float) -> None:
        self.fast, self.slow, self.frac = fast, slow, frac

    def on_bar(self, ctx: Context) -> None:
        closes = ctx.history("close", self.slow + 1)
        if closes.shape[0] < self.slow + 1:
            return
        f_now, f_prev = closes[-self.fast :].mean(0), closes[-self.fast - 1 : -1].mean(0)
        s_now, s_prev = closes[-self.slow :].mean(0), closes[-self.slow - 1 : -1].mean(0)
        up = (f_prev < s_prev - TIE) & (f_now > s_now + TIE)
        down = (f_prev > s_prev + TIE) & (f_now < s_now - TIE)
        pos = ctx.positions
        for i in np.flatnonzero(down & (pos > 0)):
            ctx.close_position(int(i))
        close = ctx.current("close")
        for i in np.flatnonzero(up & (pos == 0)):
            size = int(self.frac * ctx.cash / close[i])
            if size > 0:
                ctx.order(int(i), size)


class PercentWithMinimum(bt.CommInfoBase):
    params = (
        ("commission", 0.001),
        ("mincomm", 1.0),
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_PERC),
        ("percabs", True),
    )

    def _getcommission(self, size: float, price: float, pseudoexec: bool) -> float:
        return max(self.p.mincomm, abs(size) * price * self.p.commission)


class BtCrossFraction(bt.Strategy):
    params = (("fast", 10), ("slow", 30), ("frac", 0.3))

    def __init__(self) -> None:
        self.fills: list[tuple[dt.date, str, str, float, float, float]] = []
        self.sma = {
            d._name: (
                bt.ind.SMA(d.close, period=self.p.fast),
                bt.ind.SMA(d.close, period=self.p.slow),
            )
            for d in self.datas
        }

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            self.fills.append(
                (
                    bt.num2date(order.executed.dt).date(),
                    order.data._name,
                    "buy" if order.isbuy() else "sell",
                    abs(order.executed.size),
                    order.executed.price,
                    order.executed.comm,
                )
            )

    def next(self) -> None:
        if len(self) < self.p.slow + 1:
            return
        signals = {}
        for d in self.datas:
            fast, slow = self.sma[d._name]
            up = fast[-1] < slow[-1] - TIE and fast[0] > slow[0] + TIE
            down = fast[-1] > slow[-1] + TIE and fast[0] < slow[0] - TIE
            signals[d._name] = (up, down)
        for d in self.datas:
            if signals[d._name][1] and self.getposition(d).size > 0:
                self.close(d)
        for d in self.datas:
            if signals[d._name][0] and self.getposition(d).size == 0:
                size = int(self.p.frac * self.broker.getcash() / d.close[0])
                if size > 0:
                    self.buy(d, size=size)


def run_backtrader(
    bars: pl.DataFrame,
    *,
    fast: int,
    slow: int,
    frac: float,
    cash: float,
    commission: float,
    mincomm: float,
) -> tuple[float, list[tuple[dt.date, str, str, float, float, float]]]:
    cerebro = bt.Cerebro(stdstats=False)
    for name in sorted(bars["instrument"].unique().to_list()):
        frame = (
            bars.filter(pl.col("instrument") == name)
            .sort("date")
            .select("date", "open", "high", "low", "close", "volume")
            .to_pandas()
        )
        frame.index = pd.DatetimeIndex(frame.pop("date"))
        cerebro.adddata(bt.feeds.PandasData(dataname=frame, openinterest=None), name=name)
    cerebro.broker.setcash(cash)
    cerebro.broker.addcommissioninfo(PercentWithMinimum(commission=commission, mincomm=mincomm))
    cerebro.addstrategy(BtCrossFraction, fast=fast, slow=slow, frac=frac)
    strategy = cerebro.run()[0]
    return cerebro.broker.getvalue(), strategy.fills
