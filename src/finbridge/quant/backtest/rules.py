"""Market profiles: lot size, settlement (T+1/T+0), price limits, costs, slippage.

China A-share rules (``CN_ASHARE``): shares bought today can be sold from the next session
(T+1); buys are whole 100-share lots and sells may be odd only when they close the position;
a buy at or above the daily up-limit and a sell at or below the down-limit does not fill
(10% main board, 20% for STAR 688xxx and for ChiNext 300xxx/301xxx since 2020-08-24, 5% for
instruments flagged ST); commission is a rate with a minimum fee; stamp duty is charged on sells
(0.1% before 2023-08-28, 0.05% since). ``US`` is T+0, 1-share lots, no limits, no stamp duty.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any, Literal

CHINEXT_20PCT_FROM = dt.date(2020, 8, 24)
STAMP_DUTY_CUT = dt.date(2023, 8, 28)
_LIMIT_TOLERANCE = 1e-3  # prices tick in 0.01 CNY, so "at the limit" is within a few bp of it


@dataclass(frozen=True)
class MarketProfile:
    name: str
    currency: str
    lot_size: int
    t_plus: Literal[0, 1]
    commission_buy: float
    commission_sell: float
    min_commission: float
    stamp_duty: tuple[tuple[dt.date, float], ...]  # (effective from, rate on sell value)
    price_limits: bool
    slippage: float = 0.0  # fraction of price paid on buys / given up on sells

    def stamp_rate(self, day: dt.date) -> float:
        rate = 0.0
        for since, value in self.stamp_duty:
            if day >= since:
                rate = value
        return rate

    def limit(self, instrument: str, day: dt.date, *, st: bool = False) -> float:
        """Daily price limit as a fraction of the previous close (inf when none)."""
        if not self.price_limits:
            return float("inf")
        if st:
            return 0.05
        code = instrument[-6:]
        if code.startswith("688"):
            return 0.20
        if code.startswith(("300", "301")) and day >= CHINEXT_20PCT_FROM:
            return 0.20
        return 0.10

    def with_costs(self, **changes: Any) -> MarketProfile:
        return replace(self, **changes)


def at_up_limit(price: float, prev_close: float, limit: float) -> bool:
    return prev_close > 0 and price / prev_close - 1 >= limit - _LIMIT_TOLERANCE


def at_down_limit(price: float, prev_close: float, limit: float) -> bool:
    return prev_close > 0 and price / prev_close - 1 <= -limit + _LIMIT_TOLERANCE


CN_ASHARE = MarketProfile(
    name="cn",
    currency="CNY",
    lot_size=100,
    t_plus=1,
    commission_buy=0.0003,
    commission_sell=0.0003,
    min_commission=5.0,
    stamp_duty=((dt.date(1900, 1, 1), 0.001), (STAMP_DUTY_CUT, 0.0005)),
    price_limits=True,
)

US = MarketProfile(
    name="us",
    currency="USD",
    lot_size=1,
    t_plus=0,
    commission_buy=0.0,
    commission_sell=0.0,
    min_commission=0.0,
    stamp_duty=(),
    price_limits=False,
)

PROFILES = {"cn": CN_ASHARE, "us": US}
