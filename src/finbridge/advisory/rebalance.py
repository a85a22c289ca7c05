"""Rebalancing: drift bands, cash-flow first, minimum trade size, a reason for every trade.

Band rule (the "5/25" rule): a fund is out of band when its weight is more than ``abs_band``
(5 percentage points) from its target, or more than ``rel_band`` (25%) of its target away,
whichever is hit first, so large positions are held to 5 points and small ones to a quarter of
their size. New money goes to the underweight funds first (no sale, no cost); only if a fund is
still out of band after that is the whole account brought back to target. Trades smaller than
``min_trade`` are left out (their reason says so).

:func:`drift_check` is the nightly check for many accounts at once, on arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from finbridge.core.errors import ValidationError
from finbridge.core.money import Money

ABS_BAND = 0.05
REL_BAND = 0.25

Floats = npt.NDArray[np.float64]


def tolerance(target: Floats, abs_band: float = ABS_BAND, rel_band: float = REL_BAND) -> Floats:
    return np.minimum(abs_band, rel_band * target)


def out_of_band(weights: Floats, target: Floats, abs_band: float = ABS_BAND,
                rel_band: float = REL_BAND) -> npt.NDArray[np.bool_]:  # fmt: skip
    """Per fund (any leading shape): outside its band; any weight in a target-0 fund is out."""
    drift = np.abs(weights - target)
    return np.asarray((drift > tolerance(target, abs_band, rel_band) + 1e-12), dtype=np.bool_)


def drift_check(
    values: Floats, categories: npt.NDArray[np.intp], targets: Floats,
    abs_band: float = ABS_BAND, rel_band: float = REL_BAND,
) -> tuple[npt.NDArray[np.bool_], Floats]:  # fmt: skip
    """Accounts x funds market values, each account's category index, categories x funds
    targets -> (needs rebalancing, largest absolute drift) per account. Accounts with nothing
    invested never need it."""
    totals = values.sum(axis=1, keepdims=True)
    safe = np.where(totals > 0, totals, 1.0)
    weights = values / safe
    target = targets[categories]
    flags = out_of_band(weights, target, abs_band, rel_band).any(axis=1) & (totals[:, 0] > 0)
    return flags, np.abs(weights - target).max(axis=1)


@dataclass(frozen=True)
class Trade:
    product_code: str
    side: str  # buy | sell
    amount: Money
    reason: str


@dataclass(frozen=True)
class Proposal:
    total: Money
    weights: dict[str, float]  # now
    target: dict[str, float]
    out_of_band: tuple[str, ...]
    trades: tuple[Trade, ...]
    skipped: tuple[str, ...]  # trades below the minimum, with why

    @property
    def largest_drift(self) -> float:
        """The largest absolute distance of a fund's weight from its target (as the nightly
        :func:`drift_check` measures it)."""
        funds = set(self.weights) | set(self.target)
        return max((abs(self.weights.get(f, 0.0) - self.target.get(f, 0.0)) for f in funds),
                   default=0.0)  # fmt: skip


def propose(
    values: dict[str, Money], target: dict[str, float], *, new_cash: Money,
    min_trade: Money, abs_band: float = ABS_BAND, rel_band: float = REL_BAND,
) -> Proposal:  # fmt: skip
    """The trades that bring ``values`` (plus ``new_cash``) back within the bands."""
    if abs(sum(target.values()) - 1.0) > 1e-6:
        raise ValidationError("target weights must sum to one", field="target")
    if any(w < 0 for w in target.values()):
        raise ValidationError("target weights must not be negative", field="target")
    code = new_cash.code
    if any(v.code != code for v in values.values()) or min_trade.code != code:
        raise ValidationError(f"all amounts must be in {code}", field="currency")
    if new_cash.amount < 0:
        raise ValidationError("must not be negative", field="new_cash")
    funds = sorted(set(values) | set(target))
    v = np.array([float(values[f].amount) if f in values else 0.0 for f in funds])
    t = np.array([target.get(f, 0.0) for f in funds])
    cash = float(new_cash.amount)
    total = v.sum() + cash
    if total <= 0:
        raise ValidationError("nothing invested and no new money", field="new_cash")
    now = v / v.sum() if v.sum() > 0 else np.zeros_like(v)
    before = out_of_band(now, t, abs_band, rel_band) if v.sum() > 0 else np.zeros(len(funds), bool)
    gap = np.maximum(t * total - v, 0.0)
    buys = gap / gap.sum() * min(cash, gap.sum()) if gap.sum() > 0 and cash > 0 else 0 * v
    after = v + buys
    leftover = cash - buys.sum()
    still = out_of_band(after / after.sum(), t, abs_band, rel_band) if after.sum() > 0 else before
    raw: list[tuple[str, float, str]] = []
    if still.any() or leftover > 0.005:
        delta = t * total - v  # the full rebalance (it includes the new money)
        for f, d, w, tw, out in zip(funds, delta, now, t, before, strict=True):
            band = min(abs_band, rel_band * tw) if tw > 0 else 0.0
            why = (f"{f} at {w:.1%} vs target {tw:.1%} (band ±{band:.1%})"
                   + ("; out of band" if out else "; back to target with the rest"))  # fmt: skip
            raw.append((f, d, why))
    else:
        for f, b, tw in zip(funds, buys, t, strict=True):
            raw.append((f, b, f"new money to {f}, under its {tw:.1%} target; no sale needed"))
    trades, skipped = [], []
    minimum = float(min_trade.amount)
    for f, amount, why in raw:
        rounded = Money.of(Decimal(f"{abs(amount):.2f}"), code)
        if rounded.amount == 0:
            continue
        if abs(amount) < minimum:
            skipped.append(f"{f}: {rounded} is below the minimum trade of {min_trade}")
            continue
        trades.append(Trade(f, "buy" if amount > 0 else "sell", rounded, why))
    return Proposal(
        Money.of(Decimal(f"{total:.2f}"), code),
        {f: float(w) for f, w in zip(funds, now, strict=True)},
        {f: float(w) for f, w in zip(funds, t, strict=True)},
        tuple(f for f, o in zip(funds, before, strict=True) if o),
        tuple(trades), tuple(skipped),
    )  # fmt: skip
