"""Goal plans: Monte Carlo of a model portfolio toward a target amount and date.

Method (stated to the customer): 5,000 paths, each month's return drawn with replacement from
the portfolio's own monthly returns 2007-04..2017-11 (its current weights applied to the
shipped fund history, rebalanced monthly), so crashes like 2008 are drawn as often as they
happened. The contribution is added at the start of each month. The generator is seeded, so the
same plan gives the same answer (an adviser can reproduce what the customer saw).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from finbridge.advisory.catalogue import PriceHistory, load_prices, product
from finbridge.core.errors import ValidationError
from finbridge.core.money import Money

PATHS = 5_000
MAX_MONTHS = 50 * 12
METHOD = (
    "bootstrap: 5,000 paths of monthly returns drawn with replacement from this portfolio's "
    "monthly returns 2007-04..2017-11; contributions at the start of each month"
)

Floats = npt.NDArray[np.float64]


def portfolio_daily(weights: dict[str, float], prices: PriceHistory) -> Floats:
    """Daily returns of ``weights`` held at constant proportions."""
    cols = [prices.codes.index(c) for c in weights]
    w = np.array(list(weights.values()))
    return np.asarray(prices.returns()[:, cols] @ (w / w.sum()), dtype=np.float64)


def monthly_returns(weights: dict[str, float], prices: PriceHistory) -> Floats:
    daily = portfolio_daily(weights, prices)
    months = np.array([d.year * 12 + d.month for d in prices.dates[1:]])
    edges = np.flatnonzero(np.diff(months)) + 1
    return np.array([np.prod(1.0 + chunk) - 1.0 for chunk in np.split(daily, edges)])


def calendar_year_return(weights: dict[str, float], prices: PriceHistory, year: int) -> float:
    daily = portfolio_daily(weights, prices)
    mask = np.array([d.year == year for d in prices.dates[1:]])
    if not mask.any():
        raise ValidationError(f"no history for {year}", field="year")
    return float(np.prod(1.0 + daily[mask]) - 1.0)


@dataclass(frozen=True)
class GoalPlan:
    category: str
    target: Money
    target_date: dt.date
    initial: Money
    monthly: Money
    months: int
    paths: int
    method: str
    probability: float  # share of paths at or above the target on the target date
    months_shown: tuple[int, ...]  # the months the percentile paths are given for
    p5: tuple[Decimal, ...]  # wealth at the end of those months, per percentile
    p50: tuple[Decimal, ...]
    p95: tuple[Decimal, ...]
    loss_2008: float  # the portfolio's 2008 calendar-year return (negative = loss)
    explanation: tuple[str, ...]
    explanation_zh: tuple[str, ...] = ()  # the same facts in Chinese

    def explained(self, locale: str) -> tuple[str, ...]:
        """The explanation in the customer's language (English when none is written)."""
        return (
            self.explanation_zh
            if locale.startswith("zh") and self.explanation_zh
            else (self.explanation)
        )


def months_between(start: dt.date, end: dt.date) -> int:
    return (end.year - start.year) * 12 + (end.month - start.month)


def simulate(
    monthly: Floats, *, initial: float, contribution: float, months: int,
    paths: int = PATHS, seed: int = 16, every: int = 1,
) -> Floats:  # fmt: skip
    """Wealth at the end of every ``every``-th month (and the last), shape (points, paths):
    months first, so each month's paths are contiguous for the percentiles. float32: a
    projection needs no more, and half the memory traffic is most of the time saved."""
    rng = np.random.default_rng(seed)
    growth = (1.0 + monthly).astype(np.float32)[rng.integers(0, monthly.size, (months, paths))]
    keep = [m for m in range(months) if (m + 1) % every == 0 or m == months - 1]
    wealth = np.empty((len(keep), paths), dtype=np.float32)
    current = np.full(paths, initial, dtype=np.float32)
    add = np.float32(contribution)
    row = 0
    for m in range(months):  # vectorised across paths; months are few (<= 600)
        np.add(current, add, out=current)
        np.multiply(current, growth[m], out=current)
        if row < len(keep) and keep[row] == m:
            wealth[row] = current
            row += 1
    return wealth.astype(np.float64, copy=False)


def percentile_months(months: int) -> list[int]:
    """The months (1-based) the percentile paths are given for: monthly up to ten years, then
    evenly spaced so a fan chart gets at most 120 points (always the last month)."""
    every = max(1, -(-months // 120))
    return [m + 1 for m in range(months) if (m + 1) % every == 0 or m == months - 1]


def _amounts(values: Floats) -> tuple[Decimal, ...]:
    # Plans are shown in whole cents; Money's own rounding is not needed for a projection.
    return tuple(Decimal(f"{v:.2f}") for v in values)


def plan_goal(
    *, category: str, weights: dict[str, float], why: str, target: Money, target_date: dt.date,
    initial: Money, monthly: Money, today: dt.date, prices: PriceHistory | None = None,
    why_zh: str = "",
) -> GoalPlan:  # fmt: skip
    """The probability of reaching ``target`` by ``target_date`` and the percentile paths."""
    for name, amount in (("initial", initial), ("monthly", monthly)):
        if amount.code != target.code:
            raise ValidationError(f"must be in {target.code}, like the target", field=name)
        if amount.amount < 0:
            raise ValidationError("must not be negative", field=name)
    if target.amount <= 0:
        raise ValidationError("must be positive", field="target")
    if target_date <= today:
        raise ValidationError("the goal date must be in the future", field="target_date")
    months = months_between(today, target_date)
    if months < 1:
        raise ValidationError("the goal date must be at least a month away", field="target_date")
    if months > MAX_MONTHS:
        raise ValidationError("plans reach at most 50 years ahead", field="target_date")
    if initial.amount == 0 and monthly.amount == 0:
        needed = "an initial amount or a monthly contribution is needed"
        raise ValidationError(needed, field="monthly")
    prices = prices or load_prices()
    returns = monthly_returns(weights, prices)
    points = percentile_months(months)
    wealth = simulate(
        returns, initial=float(initial.amount), contribution=float(monthly.amount),
        months=months, every=points[1] - points[0] if len(points) > 1 else 1,
    )  # fmt: skip
    probability = float((wealth[-1] >= float(target.amount)).mean())
    # Order statistics by partition (the 250th, 2,500th and 4,750th of 5,000 paths).
    ranks = [int(q * (PATHS - 1)) for q in (0.05, 0.50, 0.95)]
    p5, p50, p95 = np.partition(wealth, ranks, axis=1)[:, ranks].T
    code = target.code
    loss_2008 = calendar_year_return(weights, prices, 2008)
    invested = initial.amount + monthly.amount * months
    top = sorted(weights.items(), key=lambda kv: -kv[1])[:3]
    funds = ", ".join(f"{product(c).name} ({c}, {product(c).risk_level}) {w:.0%}" for c, w in top)
    at_risk = initial.amount if initial.amount > 0 else monthly.amount * 12
    explanation = (
        f"Your risk category is {category}, so this is the {category} model portfolio: {why}.",
        f"Its largest holdings: {funds}.",
        f"In a bad year like 2008 this portfolio {'lost' if loss_2008 < 0 else 'gained'} about "
        f"{abs(loss_2008):.0%}: on {code} {at_risk:,.2f} that is about {code} "
        f"{abs(float(at_risk) * loss_2008):,.2f}.",
        f"You would pay in {code} {invested:,.2f} over {months} months. In {probability:.0%} of "
        f"{PATHS:,} simulated futures you reach {code} {target.amount:,.2f} by {target_date}; "
        f"in the worst 5% you end with less than {code} {p5[-1]:,.2f}.",
    )
    names = "、".join(f"{product(c).name}（{c}，{product(c).risk_level}）{w:.0%}" for c, w in top)
    explanation_zh = (
        f"您的风险类别为 {category}，因此采用 {category} 模型组合：{why_zh or why}。",
        f"主要持仓：{names}。",
        f"在 2008 年那样的糟糕年份，该组合{'亏损' if loss_2008 < 0 else '盈利'}约 "
        f"{abs(loss_2008):.0%}：以 {code} {at_risk:,.2f} 计约为 {code} "
        f"{abs(float(at_risk) * loss_2008):,.2f}。",
        f"您将在 {months} 个月内投入 {code} {invested:,.2f}。在 {PATHS:,} 次模拟中，有 "
        f"{probability:.0%} 在 {target_date} 前达到 {code} {target.amount:,.2f}；"
        f"最差的 5% 情形下期末不足 {code} {p5[-1]:,.2f}。",
    )
    return GoalPlan(
        category, target, target_date, initial, monthly, months, PATHS, METHOD, probability,
        tuple(points),
        _amounts(p5), _amounts(p50), _amounts(p95), loss_2008, explanation, explanation_zh,
    )  # fmt: skip
