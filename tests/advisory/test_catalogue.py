"""The catalogue: real ETF history, levels by the documented rule, recomputed here by hand."""

from __future__ import annotations

import itertools
import math

import pytest

from finbridge.advisory.catalogue import (
    DEPOSIT_CODE,
    LEVEL_LIMITS,
    catalogue,
    load_prices,
    product,
    risk_level,
)
from finbridge.core.errors import NotFound


def test_prices_cover_2008_for_every_fund() -> None:
    prices = load_prices()
    assert prices.dates[0].year == 2007 and prices.dates[-1].year == 2017
    assert prices.closes.shape == (len(prices.dates), len(prices.codes))
    assert (prices.closes > 0).all()


@pytest.mark.parametrize(
    ("vol", "mdd", "leveraged", "level"),
    [
        (0.0, 0.0, False, "R1"),
        (0.01, 0.02, False, "R1"),
        (0.011, 0.01, False, "R2"),  # volatility alone lifts it
        (0.005, 0.03, False, "R2"),  # drawdown alone lifts it
        (0.08, 0.20, False, "R2"),
        (0.10, 0.30, False, "R3"),
        (0.10, 0.50, False, "R4"),
        (0.26, 0.10, False, "R5"),
        (0.01, 0.01, True, "R5"),
    ],
)
def test_level_rule(vol: float, mdd: float, leveraged: bool, level: str) -> None:
    assert risk_level(vol, mdd, leveraged=leveraged) == level


def test_every_fund_level_recomputes_from_its_closes() -> None:
    prices = load_prices()
    for item in catalogue():
        if item.code == DEPOSIT_CODE:
            assert item.risk_level == "R1" and item.kind == "deposit"
            continue
        closes = [float(x) for x in prices.column(item.code)]
        logs = [math.log(b / a) for a, b in itertools.pairwise(closes)]
        mean = sum(logs) / len(logs)
        vol = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1)) * math.sqrt(252)
        peak, mdd = closes[0], 0.0
        for c in closes:
            peak = max(peak, c)
            mdd = max(mdd, 1 - c / peak)
        assert item.volatility == pytest.approx(vol, rel=1e-9)
        assert item.max_drawdown == pytest.approx(mdd, rel=1e-9)
        expected = "R5"
        for level, v, d in LEVEL_LIMITS:
            if vol <= v and mdd <= d:
                expected = level
                break
        assert item.risk_level == ("R5" if item.leveraged else expected)


def test_catalogue_spans_r1_to_r5_with_terms() -> None:
    levels = {p.risk_level for p in catalogue()}
    assert levels == {"R1", "R2", "R3", "R4", "R5"}
    assert product("SHV").risk_level == "R1"
    assert product("SPY").risk_level == "R4"
    assert product("SSO").risk_level == "R5"
    for item in catalogue():
        assert item.currency == "USD"
        assert item.settlement_days in (0, 1, 2)
        assert item.minimum.amount > 0


def test_unknown_product() -> None:
    with pytest.raises(NotFound) as info:
        product("NOPE")
    assert info.value.field == "product_code"
