"""Market profiles: lot size, settlement (T+1/T+0), price limits, costs, slippage.

China A-share rules (``CN_ASHARE``): shares bought today can be sold from the next session
(T+1); buys are whole 100-share lots and sells may be odd only when they close the position;
a buy at or above the daily up-limit and a sell at or below the down-limit does not fill
(10% main board, 20% for STAR 688xxx and for ChiNext 300xxx/301xxx since 2020-08-24, 5% for
instruments flagged ST); commission is a rate with a minimum fee; stamp duty is charged on sells
(0.1% before 2023-08-28, 0.05% since). ``US`` is T+0, 1-share lots, no limits, no stamp duty.
``UK`` is T+0, 1-share lots, no limits, stamp duty on buys (0.5% since 1986-10-27).

The profiles are data: ``profiles/<name>.yaml`` (currency, calendar, lot size, commissions,
taxes on buys and/or sells with the dates they took effect, the price-limit rule).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from finbridge.core.errors import ValidationError

STAMP_DUTY_CUT = dt.date(2023, 8, 28)
_LIMIT_TOLERANCE = 1e-3  # prices tick in 0.01 CNY, so "at the limit" is within a few bp of it


@dataclass(frozen=True)
class BoardLimit:
    """A board's daily limit: instruments whose 6-digit code starts with one of ``prefixes``
    move at most ``limit`` from the previous close, from ``since`` on (before it the market's
    default applies)."""

    prefixes: tuple[str, ...]
    limit: float
    since: dt.date | None = None


@dataclass(frozen=True)
class PriceLimits:
    """A market's daily price-limit rule, read from its profile file."""

    default: float
    special_treatment: float | None = None  # ST shares
    boards: tuple[BoardLimit, ...] = ()

    def limit(self, instrument: str, day: dt.date, *, st: bool = False) -> float:
        if st and self.special_treatment is not None:
            return self.special_treatment
        code = instrument[-6:]
        for board in self.boards:
            if code.startswith(board.prefixes) and (board.since is None or day >= board.since):
                return board.limit
        return self.default


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
    price_limits: PriceLimits | None  # None: prices move freely
    slippage: float = 0.0  # fraction of price paid on buys / given up on sells
    buy_tax: tuple[tuple[dt.date, float], ...] = ()  # (effective from, rate on buy value)
    calendar: str | None = None  # the exchange calendar of the market's sessions

    @staticmethod
    def _rate(schedule: tuple[tuple[dt.date, float], ...], day: dt.date) -> float:
        rate = 0.0
        for since, value in schedule:
            if day >= since:
                rate = value
        return rate

    def stamp_rate(self, day: dt.date) -> float:
        """Tax rate on the value sold on ``day``."""
        return self._rate(self.stamp_duty, day)

    def buy_tax_rate(self, day: dt.date) -> float:
        """Tax rate on the value bought on ``day`` (UK stamp duty)."""
        return self._rate(self.buy_tax, day)

    def limit(self, instrument: str, day: dt.date, *, st: bool = False) -> float:
        """Daily price limit as a fraction of the previous close (inf when none)."""
        if self.price_limits is None:
            return float("inf")
        return self.price_limits.limit(instrument, day, st=st)

    def with_costs(self, **changes: Any) -> MarketProfile:
        return replace(self, **changes)


def at_up_limit(price: float, prev_close: float, limit: float) -> bool:
    return prev_close > 0 and price / prev_close - 1 >= limit - _LIMIT_TOLERANCE


def at_down_limit(price: float, prev_close: float, limit: float) -> bool:
    return prev_close > 0 and price / prev_close - 1 <= -limit + _LIMIT_TOLERANCE


class _Tax(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str
    side: Literal["buy", "sell"]
    rate: float = Field(ge=0, le=0.1)
    since: dt.date = Field(alias="from")


class _Board(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    prefixes: list[str] = Field(min_length=1)
    limit: float = Field(gt=0, le=1)
    since: dt.date | None = Field(default=None, alias="from")


class _Limits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: float = Field(gt=0, le=1)
    special_treatment: float | None = Field(default=None, gt=0, le=1)
    boards: list[_Board] = Field(default_factory=list)

    def rule(self) -> PriceLimits:
        return PriceLimits(
            self.default, self.special_treatment,
            tuple(BoardLimit(tuple(b.prefixes), b.limit, b.since) for b in self.boards),
        )  # fmt: skip


class _ProfileFile(BaseModel):
    """A market profile file (``profiles/<name>.yaml``): the market's rules as data."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    calendar: str | None = None
    lot_size: int = Field(ge=1)
    t_plus: Literal[0, 1]
    commission_buy: float = Field(ge=0, le=0.1)
    commission_sell: float = Field(ge=0, le=0.1)
    min_commission: float = Field(ge=0)
    slippage: float = Field(default=0.0, ge=0, le=0.1)
    price_limits: _Limits | Literal["none"]
    taxes: list[_Tax] = Field(default_factory=list)

    def profile(self) -> MarketProfile:
        def schedule(side: str) -> tuple[tuple[dt.date, float], ...]:
            return tuple(sorted((t.since, t.rate) for t in self.taxes if t.side == side))

        return MarketProfile(
            name=self.name, currency=self.currency, lot_size=self.lot_size, t_plus=self.t_plus,
            commission_buy=self.commission_buy, commission_sell=self.commission_sell,
            min_commission=self.min_commission, stamp_duty=schedule("sell"),
            price_limits=None if self.price_limits == "none" else self.price_limits.rule(),
            slippage=self.slippage,
            buy_tax=schedule("buy"), calendar=self.calendar,
        )  # fmt: skip


def load_profile(path: Path) -> MarketProfile:
    """Read one market profile file; a bad key or value is an error naming it."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        return _ProfileFile.model_validate(raw).profile()
    except OSError:
        raise ValidationError(f"no market profile file at {path}", field="profile") from None
    except yaml.YAMLError as exc:
        raise ValidationError(f"{path}: not valid YAML: {exc}", field="profile") from None
    except PydanticError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "profile"
        raise ValidationError(f"{Path(path).name}: {err['msg']}", field=key) from None


PROFILE_DIR = Path(__file__).with_name("profiles")
# The shipped markets, read from their files once at import (three small YAML files).
PROFILES: dict[str, MarketProfile] = {
    p.name: p for p in map(load_profile, sorted(PROFILE_DIR.glob("*.yaml")))
}
CN_ASHARE = PROFILES["cn"]
US = PROFILES["us"]
UK = PROFILES["uk"]


def profile_named(name: str) -> MarketProfile:
    """A shipped profile by name, or an error listing the names there are."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ValidationError(
            f"unknown market profile {name!r}; shipped: {sorted(PROFILES)}", field="profile"
        ) from None
