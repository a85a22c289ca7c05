"""The product catalogue: real US ETFs (the shipped daily closes) plus the bank's own deposit.

Each product's risk level R1..R5 comes from one rule anyone can check on the price history
(:func:`risk_level`): the annualised volatility of daily log returns and the maximum drawdown
over the whole shipped window (2007-04..2017-11, so the 2008 crisis counts), each mapped to a
level by :data:`LEVEL_LIMITS`; the product gets the higher of the two, and a leveraged product
is R5 whatever its history. The deposit has no market price (principal repaid at par), so both
measures are zero and it is R1 by the same rule.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from finbridge.core.errors import NotFound
from finbridge.core.money import Money

LEVELS = ("R1", "R2", "R3", "R4", "R5")
# (level, highest annualised volatility, highest max drawdown) - the first row both fit decides.
LEVEL_LIMITS: tuple[tuple[str, float, float], ...] = (
    ("R1", 0.01, 0.02),
    ("R2", 0.08, 0.20),
    ("R3", 0.15, 0.35),
    ("R4", 0.25, 0.65),
)
TRADING_DAYS = 252
PRICE_FILE = "us_etfs_advisory_2007_2017.parquet"
DEPOSIT_CODE = "FB-USD-DEP"


def risk_level(volatility: float, max_drawdown: float, *, leveraged: bool = False) -> str:
    """R1..R5 by the documented rule (see the module docstring)."""
    if leveraged:
        return "R5"
    for level, vol_limit, dd_limit in LEVEL_LIMITS:
        if volatility <= vol_limit and max_drawdown <= dd_limit:
            return level
    return "R5"


def annual_volatility(closes: npt.NDArray[np.float64]) -> float:
    returns = np.diff(np.log(closes))
    return float(returns.std(ddof=1) * np.sqrt(TRADING_DAYS)) if returns.size > 1 else 0.0


def max_drawdown(closes: npt.NDArray[np.float64]) -> float:
    """The largest fall from a running peak, as a positive fraction."""
    return float((1.0 - closes / np.maximum.accumulate(closes)).max()) if closes.size else 0.0


@dataclass(frozen=True)
class FundSpec:
    code: str
    name: str
    asset_class: str  # cash | bond | equity | sector | commodity | leveraged
    subscription_fee: Decimal  # fraction of the amount, taken at subscription
    settlement_days: int  # units are allotted at the NAV this many business days after the order
    leveraged: bool = False


# The fund universe. Fees and lags are the bank's terms for the product, not the ETF's.
FUNDS: tuple[FundSpec, ...] = (
    FundSpec("SHV", "iShares Short Treasury Bond", "cash", Decimal("0.0005"), 1),
    FundSpec("SHY", "iShares 1-3 Year Treasury Bond", "bond", Decimal("0.001"), 1),
    FundSpec("IEF", "iShares 7-10 Year Treasury Bond", "bond", Decimal("0.001"), 1),
    FundSpec("AGG", "iShares Core US Aggregate Bond", "bond", Decimal("0.001"), 1),
    FundSpec("TIP", "iShares TIPS Bond", "bond", Decimal("0.001"), 1),
    FundSpec("LQD", "iShares Investment Grade Corporate Bond", "bond", Decimal("0.001"), 1),
    FundSpec("TLT", "iShares 20+ Year Treasury Bond", "bond", Decimal("0.001"), 1),
    FundSpec("HYG", "iShares High Yield Corporate Bond", "bond", Decimal("0.0015"), 2),
    FundSpec("SPY", "SPDR S&P 500", "equity", Decimal("0.0015"), 2),
    FundSpec("QQQ", "Invesco QQQ (Nasdaq-100)", "equity", Decimal("0.0015"), 2),
    FundSpec("IWM", "iShares Russell 2000", "equity", Decimal("0.0015"), 2),
    FundSpec("EFA", "iShares MSCI EAFE", "equity", Decimal("0.0015"), 2),
    FundSpec("EEM", "iShares MSCI Emerging Markets", "equity", Decimal("0.0015"), 2),
    FundSpec("XLK", "Technology Select Sector SPDR", "sector", Decimal("0.002"), 2),
    FundSpec("XLE", "Energy Select Sector SPDR", "sector", Decimal("0.002"), 2),
    FundSpec("XLU", "Utilities Select Sector SPDR", "sector", Decimal("0.002"), 2),
    FundSpec("XLV", "Health Care Select Sector SPDR", "sector", Decimal("0.002"), 2),
    FundSpec("GLD", "SPDR Gold Shares", "commodity", Decimal("0.002"), 2),
    FundSpec("SSO", "ProShares Ultra S&P 500 (2x)", "leveraged", Decimal("0.003"), 2, True),
)


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    kind: str  # deposit | fund
    asset_class: str
    risk_level: str
    volatility: float  # annualised, over the shipped window
    max_drawdown: float
    minimum: Money
    subscription_fee: Decimal
    settlement_days: int
    leveraged: bool

    @property
    def currency(self) -> str:
        return self.minimum.code

    @property
    def level_number(self) -> int:
        return int(self.risk_level[1])


@dataclass(frozen=True)
class PriceHistory:
    """Daily adjusted closes, one column per fund (in :data:`FUNDS` order)."""

    dates: tuple[dt.date, ...]
    codes: tuple[str, ...]
    closes: npt.NDArray[np.float64]  # shape (n_days, n_funds)

    def column(self, code: str) -> npt.NDArray[np.float64]:
        if code not in self.codes:
            raise NotFound(f"no price history for {code!r}", field="product_code")
        return self.closes[:, self.codes.index(code)]

    def returns(self) -> npt.NDArray[np.float64]:
        """Simple daily returns, shape (n_days - 1, n_funds)."""
        return self.closes[1:] / self.closes[:-1] - 1.0

    def nav_on_or_after(self, code: str, day: dt.date) -> tuple[dt.date, float]:
        """The first close on or after ``day`` (the NAV an order settling that day gets)."""
        idx = int(np.searchsorted(np.array(self.dates, dtype="datetime64[D]"), np.datetime64(day)))
        if idx >= len(self.dates):
            raise NotFound(f"no {code} price on or after {day}", field="trade_date")
        return self.dates[idx], float(self.column(code)[idx])


@cache
def load_prices() -> PriceHistory:
    """The shipped fund closes (read once per process)."""
    import polars as pl

    path = resources.files("finbridge.datasets") / "market" / PRICE_FILE
    with resources.as_file(path) as real:
        frame = pl.read_parquet(real)
    codes = tuple(f.code for f in FUNDS)
    closes = frame.select(codes).to_numpy().astype(np.float64)
    return PriceHistory(tuple(frame["date"].to_list()), codes, closes)


@cache
def catalogue() -> tuple[Product, ...]:
    """Every product, deposit first, each levelled by :func:`risk_level` on its history."""
    prices = load_prices()
    deposit = Product(
        DEPOSIT_CODE, "finbridge USD 3-month time deposit", "deposit", "cash",
        risk_level(0.0, 0.0), 0.0, 0.0, Money.of("1000", "USD"), Decimal("0"), 0, False,
    )  # fmt: skip
    products = [deposit]
    for spec in FUNDS:
        closes = prices.column(spec.code)
        vol, mdd = annual_volatility(closes), max_drawdown(closes)
        products.append(
            Product(
                spec.code,
                spec.name,
                "fund",
                spec.asset_class,
                risk_level(vol, mdd, leveraged=spec.leveraged),
                vol,
                mdd,
                Money.of("100", "USD"),
                spec.subscription_fee,
                spec.settlement_days,
                spec.leveraged,
            )
        )
    return tuple(products)


def product(code: str) -> Product:
    for p in catalogue():
        if p.code == code:
            return p
    raise NotFound(f"no product {code!r}", field="product_code")
