"""Built-in strategies, chosen by name from :data:`STRATEGIES` (no class paths in configs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from finbridge.core.errors import ValidationError
from finbridge.quant.backtest.engine import Context, Strategy


class MACrossover(Strategy):
    """Per instrument: buy ``weight`` of equity when the fast MA crosses above the slow MA, sell
    everything when it crosses below. ``weight`` defaults to 1 / number of instruments."""

    name = "ma_crossover"

    def __init__(self, fast: int = 10, slow: int = 30, weight: float | None = None) -> None:
        if not 1 <= fast < slow:
            raise ValidationError("need 1 <= fast < slow", field="fast")
        self.fast, self.slow, self.weight = fast, slow, weight

    def on_bar(self, ctx: Context) -> None:
        closes = ctx.history("close", self.slow + 1)
        if closes.shape[0] < self.slow + 1:
            return
        fast_now = closes[-self.fast :].mean(axis=0)
        fast_prev = closes[-self.fast - 1 : -1].mean(axis=0)
        slow_now = closes[-self.slow :].mean(axis=0)
        slow_prev = closes[-self.slow - 1 : -1].mean(axis=0)
        with np.errstate(invalid="ignore"):
            up = (fast_now > slow_now) & (fast_prev <= slow_prev)
            down = (fast_now < slow_now) & (fast_prev >= slow_prev)
        positions = ctx.positions
        weight = self.weight if self.weight is not None else 1.0 / len(ctx.instruments)
        equity = ctx.equity
        price = ctx.current("last_close")
        for i in np.flatnonzero(down & (positions > 0)):
            ctx.close_position(int(i), "ma cross down")
        for i in np.flatnonzero(up & (positions <= 0)):
            ctx.order(int(i), weight * equity / price[i], "ma cross up")


class TopKDropout(Strategy):
    """Qlib's TopK-Dropout: hold ``topk`` names by score; each session replace at most
    ``n_drop`` of the held names with the best-scored names not held. Sells close whole
    positions; the cash (times ``risk_degree``) is split equally over the buys."""

    name = "topk_dropout"

    def __init__(self, topk: int = 50, n_drop: int = 5, risk_degree: float = 0.95) -> None:
        if topk < 1 or not 0 <= n_drop <= topk:
            raise ValidationError("need topk >= 1 and 0 <= n_drop <= topk", field="topk")
        self.topk, self.n_drop, self.risk_degree = topk, n_drop, risk_degree

    def on_bar(self, ctx: Context) -> None:
        score = ctx.score()
        valid = np.isfinite(score)
        if not valid.any():
            return
        held = np.flatnonzero(ctx.positions > 0)
        held_sorted = held[np.argsort(-np.nan_to_num(score[held], nan=-np.inf), kind="stable")]
        candidates = np.flatnonzero(valid & (ctx.positions <= 0))
        candidates = candidates[np.argsort(-score[candidates], kind="stable")]
        n_new = self.n_drop + self.topk - len(held_sorted)
        today = candidates[: max(n_new, 0)]
        combined = np.concatenate([held_sorted, today])
        combined = combined[np.argsort(-np.nan_to_num(score[combined], nan=-np.inf), kind="stable")]
        worst = set(combined[-self.n_drop :].tolist()) if self.n_drop else set()
        sell = [i for i in held_sorted if i in worst]
        buy = today[: len(sell) + self.topk - len(held_sorted)]
        price = ctx.current("last_close")
        cash = ctx.cash
        for i in sell:
            value = ctx.positions[i] * price[i]
            cash += value * 0.998  # estimate after costs; the fill decides the real amount
            ctx.close_position(int(i), "dropout")
        if len(buy):
            per_name = cash * self.risk_degree / len(buy)
            for i in buy:
                if price[i] > 0:
                    ctx.order(int(i), per_name / price[i], "topk")


class BuyAndHold(Strategy):
    """Spread ``weight`` of the starting cash equally over every instrument on the first day."""

    name = "buy_and_hold"

    def __init__(self, weight: float = 0.99) -> None:
        self.weight = weight
        self._done = False

    def on_bar(self, ctx: Context) -> None:
        if self._done:
            return
        self._done = True
        per_name = ctx.cash * self.weight / len(ctx.instruments)
        price = ctx.current("last_close")
        for i in range(len(ctx.instruments)):
            if price[i] > 0:
                ctx.order(i, per_name / price[i], "buy and hold")


STRATEGIES: dict[str, Callable[..., Strategy]] = {
    "ma_crossover": MACrossover,
    "topk_dropout": TopKDropout,
    "buy_and_hold": BuyAndHold,
}


def make_strategy(name: str, **params: Any) -> Strategy:
    if name not in STRATEGIES:
        raise ValidationError(
            f"unknown strategy {name!r}; choose from {sorted(STRATEGIES)}", field="strategy"
        )
    try:
        return STRATEGIES[name](**params)
    except TypeError as exc:
        raise ValidationError(f"bad parameters for {name}: {exc}", field="params") from None
