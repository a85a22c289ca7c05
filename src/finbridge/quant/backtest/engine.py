"""Event-driven daily backtest with market rules (China A-share or US profile).

The day loop: (1) orders decided at the previous close fill at this session's open or close,
under the profile's rules (suspension, price limit, T+1, lots, cash, costs, slippage); (2) the
book is marked to the close; (3) the strategy sees data up to and including this session only
(:class:`Context` slices history, it cannot index the future) and places orders for the next
session. Orders that cannot fill are dropped and logged in ``rejections`` with the reason.

Numbers inside the simulation are float64 for speed; results leave as floats in arrays plus the
final equity as :class:`finbridge.core.Money` rounded to minor units.

More orders than cash (documented handling, ``on_insufficient_cash``): ``"reduce"`` (default)
shrinks a buy to the largest whole lot the cash covers including costs and logs the reduction;
``"reject"`` drops the buy; ``"raise"`` stops with :class:`InsufficientFunds`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

import numpy as np
import polars as pl
from numpy.typing import NDArray

from finbridge.core.errors import InsufficientFunds, ValidationError
from finbridge.core.money import Money
from finbridge.quant.backtest.market import MarketData
from finbridge.quant.backtest.rules import MarketProfile, at_down_limit, at_up_limit

F64 = NDArray[np.float64]
CashPolicy = Literal["reduce", "reject", "raise"]


@dataclass
class Order:
    asset: int
    quantity: float  # adjusted shares; positive buys, negative sells
    tag: str = ""


class Strategy:
    """Subclass and override :meth:`on_bar` (and optionally :meth:`on_start`)."""

    name = "custom"

    def on_start(self, ctx: Context) -> None:
        """Called once before the first session."""

    def on_bar(self, ctx: Context) -> None:
        raise NotImplementedError


class Context:
    """What a strategy may see and do at the close of session ``t``."""

    def __init__(self, engine: _Run, t: int) -> None:
        self._run = engine
        self.t = t

    @property
    def date(self) -> dt.date:
        return self._run.data.dates[self.t]

    @property
    def instruments(self) -> tuple[str, ...]:
        return self._run.data.instruments

    @property
    def cash(self) -> float:
        return self._run.cash

    @property
    def positions(self) -> F64:
        return self._run.positions.copy()

    @property
    def equity(self) -> float:
        return self._run.equity_now(self.t)

    def history(self, field: str, n: int) -> F64:
        """The last ``n`` rows (sessions ..t) of a bar field; fewer at the start."""
        arr: F64 = getattr(self._run.data, field)
        return arr[max(0, self.t - n + 1) : self.t + 1]

    def current(self, field: str) -> F64:
        return getattr(self._run.data, field)[self.t]  # type: ignore[no-any-return]

    def score(self) -> F64:
        if self._run.data.signal is None:
            raise ValidationError("this backtest has no signal", field="signal")
        return self._run.data.signal[self.t]

    def asset(self, instrument: str | int) -> int:
        return instrument if isinstance(instrument, int) else self._run.data.index_of(instrument)

    def order(self, instrument: str | int, quantity: float, tag: str = "") -> None:
        if quantity != 0 and math.isfinite(quantity):
            self._run.pending.append(Order(self.asset(instrument), float(quantity), tag))

    def order_target_shares(self, instrument: str | int, target: float, tag: str = "") -> None:
        i = self.asset(instrument)
        self.order(i, target - self._run.positions[i], tag)

    def order_target_value(self, instrument: str | int, value: float, tag: str = "") -> None:
        i = self.asset(instrument)
        price = self._run.data.last_close[self.t, i]
        if not (price > 0):
            return
        self.order_target_shares(i, value / price, tag)

    def order_target_weight(self, instrument: str | int, weight: float, tag: str = "") -> None:
        self.order_target_value(instrument, weight * self.equity, tag)

    def close_position(self, instrument: str | int, tag: str = "") -> None:
        self.order_target_shares(instrument, 0.0, tag)


@dataclass
class BacktestResult:
    dates: tuple[dt.date, ...]
    equity: F64
    cash: F64
    gross_exposure: F64  # position value / equity
    turnover: F64  # traded value / previous equity
    benchmark: F64 | None
    trades: pl.DataFrame
    rejections: pl.DataFrame
    initial_cash: float
    currency: str

    @property
    def returns(self) -> F64:
        prev = np.concatenate(([self.initial_cash], self.equity[:-1]))
        return self.equity / prev - 1.0

    @property
    def benchmark_returns(self) -> F64 | None:
        if self.benchmark is None:
            return None
        b = self.benchmark
        out = np.zeros_like(b)
        out[1:] = b[1:] / b[:-1] - 1.0
        return np.nan_to_num(out)

    @property
    def final_equity(self) -> Money:
        return Money.rounded(Decimal(repr(float(self.equity[-1]))), self.currency)


@dataclass
class _Run:
    data: MarketData
    profile: MarketProfile
    cash: float
    fill: Literal["open", "close"]
    on_insufficient_cash: CashPolicy
    max_volume_fraction: float | None
    positions: F64 = field(init=False)
    locked: F64 = field(init=False)
    pending: list[Order] = field(default_factory=list)
    trades: list[tuple[object, ...]] = field(default_factory=list)
    rejections: list[tuple[object, ...]] = field(default_factory=list)
    traded_value: float = 0.0

    def __post_init__(self) -> None:
        n = len(self.data.instruments)
        self.positions = np.zeros(n)
        self.locked = np.zeros(n)

    def equity_now(self, t: int) -> float:
        prices = np.nan_to_num(self.data.last_close[t])
        return float(self.cash + self.positions @ prices)

    def _reject(self, t: int, order: Order, reason: str) -> None:
        self.rejections.append(
            (self.data.dates[t], self.data.instruments[order.asset], order.quantity, reason)
        )

    def _lot(self, t: int, i: int) -> float:
        # Lots are in raw shares; positions are in adjusted shares (raw = adjusted * factor).
        return self.profile.lot_size / self.data.factor[t, i]

    def _commission(self, value: float, rate: float) -> float:
        return max(self.profile.min_commission, value * rate) if value > 0 else 0.0

    def execute(self, t: int) -> None:
        orders, self.pending = self.pending, []
        data, profile = self.data, self.profile
        prices = data.open[t] if self.fill == "open" else data.close[t]
        prev_close = data.last_close[t - 1] if t > 0 else data.last_close[t]
        day = data.dates[t]
        for order in orders:
            i = order.asset
            if not data.tradable[t, i]:
                self._reject(t, order, "suspended")
                continue
            price = float(prices[i])
            limit = profile.limit(data.instruments[i], day, st=bool(data.st[i]))
            lot = self._lot(t, i)
            qty = order.quantity
            if self.max_volume_fraction is not None:
                cap = self.max_volume_fraction * float(data.volume[t, i])
                if abs(qty) > cap:
                    self._reject(t, order, "volume cap")
                    qty = math.copysign(cap, qty)
            if qty > 0:
                if at_up_limit(price, float(prev_close[i]), limit):
                    self._reject(t, order, "limit up")
                    continue
                self._buy(t, i, qty, price * (1 + profile.slippage), lot, order)
            else:
                if at_down_limit(price, float(prev_close[i]), limit):
                    self._reject(t, order, "limit down")
                    continue
                self._sell(t, i, -qty, price * (1 - profile.slippage), lot, order)

    def _round_lots(self, qty: float, lot: float) -> float:
        # A tiny epsilon keeps 300.0000001 / 100 from rounding to 2 lots.
        return math.floor(qty / lot + 1e-9) * lot

    def _buy(self, t: int, i: int, qty: float, price: float, lot: float, order: Order) -> None:
        rate = self.profile.commission_buy
        tax_rate = self.profile.buy_tax_rate(self.data.dates[t])
        qty = self._round_lots(qty, lot)
        if qty <= 0:
            self._reject(t, order, "below one lot")
            return
        value = qty * price
        fee = self._commission(value, rate) + value * tax_rate
        if value + fee > self.cash + 1e-9:
            if self.on_insufficient_cash == "raise":
                raise InsufficientFunds(
                    f"{self.data.dates[t]}: buying {qty:.0f} {self.data.instruments[i]} needs "
                    f"{value + fee:.2f}, cash is {self.cash:.2f}",
                    field="quantity",
                )
            if self.on_insufficient_cash == "reject":
                self._reject(t, order, "insufficient cash")
                return
            affordable = max(self.cash - self.profile.min_commission, 0.0) / (
                price * (1 + rate + tax_rate)
            )
            qty = self._round_lots(min(qty, affordable), lot)
            while (
                qty > 0
                and qty * price * (1 + tax_rate) + self._commission(qty * price, rate) > self.cash
            ):
                qty -= lot
            self._reject(t, order, "reduced: insufficient cash")
            if qty <= 0:
                return
            value = qty * price
            fee = self._commission(value, rate) + value * tax_rate
        tax = value * tax_rate
        fee -= tax
        self.cash -= value + fee + tax
        self.positions[i] += qty
        if self.profile.t_plus:
            self.locked[i] += qty
        self.traded_value += value
        self._log(t, i, "buy", qty, price, fee, tax)

    def _sell(self, t: int, i: int, qty: float, price: float, lot: float, order: Order) -> None:
        held = self.positions[i]
        sellable = held - self.locked[i]
        if sellable <= 1e-12:
            self._reject(t, order, "T+1: nothing sellable" if held > 0 else "no position")
            return
        qty = min(qty, sellable)
        # Odd lots may only be sold when they close the whole position.
        if qty < held - 1e-9:
            qty = self._round_lots(qty, lot)
            if qty <= 0:
                self._reject(t, order, "below one lot")
                return
        value = qty * price
        fee = self._commission(value, self.profile.commission_sell)
        stamp = value * self.profile.stamp_rate(self.data.dates[t])
        self.cash += value - fee - stamp
        self.positions[i] = 0.0 if abs(held - qty) < 1e-9 else held - qty
        self.traded_value += value
        self._log(t, i, "sell", qty, price, fee, stamp)

    def _log(
        self, t: int, i: int, side: str, qty: float, price: float, fee: float, stamp: float
    ) -> None:
        factor = float(self.data.factor[t, i])
        self.trades.append(
            (self.data.dates[t], self.data.instruments[i], side, qty, price,
             qty * factor, price / factor, fee, stamp)
        )  # fmt: skip


def run_backtest(
    data: MarketData,
    strategy: Strategy,
    profile: MarketProfile,
    *,
    initial_cash: float = 1_000_000.0,
    fill: Literal["open", "close"] = "open",
    on_insufficient_cash: CashPolicy = "reduce",
    max_volume_fraction: float | None = None,
) -> BacktestResult:
    """Run ``strategy`` over ``data`` under ``profile``; see the module doc for the day loop."""
    if not (initial_cash > 0 and math.isfinite(initial_cash)):
        raise ValidationError("initial cash must be positive", field="initial_cash")
    run = _Run(data, profile, float(initial_cash), fill, on_insufficient_cash, max_volume_fraction)
    n_days = len(data.dates)
    equity, cash, exposure, turnover = (np.zeros(n_days) for _ in range(4))
    strategy.on_start(Context(run, 0))
    prev_equity = float(initial_cash)
    for t in range(n_days):
        run.locked[:] = 0.0  # yesterday's buys settle: sellable from today (T+1)
        run.traded_value = 0.0
        if run.pending:
            run.execute(t)
        prices = np.nan_to_num(data.last_close[t])
        held_value = float(run.positions @ prices)
        equity[t] = run.cash + held_value
        cash[t] = run.cash
        exposure[t] = held_value / equity[t] if equity[t] > 0 else 0.0
        turnover[t] = run.traded_value / prev_equity if prev_equity > 0 else 0.0
        prev_equity = equity[t]
        if t < n_days - 1:  # orders after the last close could never fill
            strategy.on_bar(Context(run, t))
    trades = pl.DataFrame(
        run.trades,
        schema=[
            "date",
            "instrument",
            "side",
            "quantity",
            "price",
            "raw_shares",
            "raw_price",
            "commission",
            "stamp_duty",
        ],
        orient="row",
    )
    rejections = pl.DataFrame(
        run.rejections, schema=["date", "instrument", "quantity", "reason"], orient="row"
    )
    return BacktestResult(
        dates=data.dates,
        equity=equity,
        cash=cash,
        gross_exposure=exposure,
        turnover=turnover,
        benchmark=data.benchmark,
        trades=trades,
        rejections=rejections,
        initial_cash=float(initial_cash),
        currency=profile.currency,
    )
