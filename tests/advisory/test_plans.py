"""Goal plans: bootstrap Monte Carlo, percentiles, explanations, bad input."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from finbridge.advisory.catalogue import load_prices
from finbridge.advisory.plans import (
    PATHS,
    calendar_year_return,
    monthly_returns,
    percentile_months,
    plan_goal,
    simulate,
)
from finbridge.core.errors import ValidationError
from finbridge.core.money import Money

TODAY = dt.date(2026, 12, 6)
W = {"SPY": 0.6, "AGG": 0.4}


def usd(x: str) -> Money:
    return Money.of(x, "USD")


def plan(**kw: object) -> object:
    args: dict[str, object] = dict(
        category="C3", weights=W, why="balanced", target=usd("100000"),
        target_date=dt.date(2046, 12, 1), initial=usd("10000"), monthly=usd("200"), today=TODAY,
    )  # fmt: skip
    args.update(kw)
    return plan_goal(**args)  # type: ignore[arg-type]


def test_simulation_without_risk_is_exact() -> None:
    wealth = simulate(np.array([0.01]), initial=100.0, contribution=10.0, months=3, paths=4)
    expected = []
    w = 100.0
    for _ in range(3):
        w = (w + 10.0) * 1.01
        expected.append(w)
    np.testing.assert_allclose(wealth[:, 0], expected, rtol=1e-6)  # float32 paths
    assert wealth.shape == (3, 4)


def test_plan_probabilities_and_percentiles() -> None:
    result = plan()
    assert result.paths == PATHS == 5000
    assert result.months == 240
    assert result.months_shown == tuple(range(2, 241, 2))  # at most 120 points
    assert len(result.p5) == len(result.p50) == len(result.p95) == 120
    assert all(a <= b <= c for a, b, c in zip(result.p5, result.p50, result.p95, strict=True))
    assert 0.0 < result.probability < 1.0
    easier = plan(target=usd("20000"))
    harder = plan(target=usd("1000000"))
    assert easier.probability > result.probability > harder.probability
    assert "bootstrap" in result.method


def test_2008_explanation_uses_the_real_year() -> None:
    prices = load_prices()
    loss = calendar_year_return(W, prices, 2008)
    assert -0.35 < loss < -0.10  # 60/40 lost roughly a fifth in 2008
    result = plan()
    text = " ".join(result.explanation)
    assert "2008" in text and f"{abs(loss):.0%}" in text
    assert f"{10000 * abs(loss):,.2f}" in text
    zh = " ".join(result.explained("zh_CN"))  # the same facts, in Chinese
    assert "2008 年" in zh and f"{abs(loss):.0%}" in zh and f"{10000 * abs(loss):,.2f}" in zh
    assert result.explained("en") == result.explanation
    assert monthly_returns(W, prices).size >= 120


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"target_date": dt.date(2020, 1, 1)}, "target_date"),
        ({"target_date": TODAY}, "target_date"),
        ({"target_date": dt.date(2099, 1, 1)}, "target_date"),
        ({"target": usd("0")}, "target"),
        ({"monthly": Money.of("200", "CNY")}, "monthly"),
        ({"initial": usd("-1")}, "initial"),
        ({"initial": usd("0"), "monthly": usd("0")}, "monthly"),
    ],
)
def test_bad_goals(changes: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        plan(**changes)
    assert info.value.field == field


def test_percentile_months() -> None:
    assert percentile_months(12) == list(range(1, 13))
    assert percentile_months(120) == list(range(1, 121))
    shown = percentile_months(361)
    assert len(shown) <= 121 and shown[-1] == 361 and shown[:2] == [4, 8]
