"""Model portfolios: skfolio walk-forward on a small window (2008-04..2010-04 out of sample)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from tests.advisory.conftest import SYSTEM

from finbridge.advisory import AdvisoryService
from finbridge.advisory.catalogue import catalogue, load_prices, max_drawdown
from finbridge.advisory.portfolios import (
    COST_RATE,
    GROWTH_CLASSES,
    SPECS,
    TEST_DAYS,
    TRAIN_DAYS,
    Metrics,
    ModelReport,
    build_models,
    check_weights,
    evaluate_weights,
    fixed_weights,
)
from finbridge.advisory.report import render_report
from finbridge.core.errors import ValidationError


@pytest.fixture
def report(small_models: ModelReport) -> ModelReport:
    return small_models


def test_models_are_ordered_by_risk_out_of_sample(report: ModelReport) -> None:
    vols = [m.metrics.annual_volatility for m in report.models]
    drawdowns = [m.metrics.max_drawdown for m in report.models]
    assert vols == sorted(vols) and len(set(vols)) == 5
    assert drawdowns == sorted(drawdowns)
    assert report.risk_ordered()
    assert report.start.year == 2008  # the crisis is out of sample


def test_each_model_respects_its_constraints(report: ModelReport) -> None:
    classes = {p.code: p.asset_class for p in catalogue()}
    for spec, model in zip(SPECS, report.models, strict=True):
        assert model.name == spec.category
        assert set(model.weights) <= set(spec.universe)
        assert sum(model.weights.values()) == pytest.approx(1.0, abs=1e-6)
        growth = sum(w for c, w in model.weights.items() if classes[c] in GROWTH_CLASSES)
        if spec.category == "C1":
            assert growth == 0 and model.weights.get("SHY", 0) <= 0.3 + 1e-6
        if spec.category == "C2":
            assert growth <= 0.2 + 1e-6
        if spec.category == "C3":
            assert 0.4 - 1e-6 <= growth <= 0.5 + 1e-6
        if spec.category in ("C4", "C5"):
            assert max(model.weights.values()) <= 0.35 + 1e-6
    # the model level, by the catalogue's rule, never exceeds its category
    for model in report.models:
        assert int(model.metrics.risk_level[1]) <= int(model.name[1])


def test_fixed_weights_net_returns_match_a_hand_computation() -> None:
    prices = load_prices()
    window = slice(0, TRAIN_DAYS + 2 * TEST_DAYS)
    bench = fixed_weights("60/40", {"SPY": 0.6, "AGG": 0.4}, prices, window)
    assert len(bench.returns) == 2 * TEST_DAYS
    r = prices.returns()[TRAIN_DAYS : TRAIN_DAYS + 2 * TEST_DAYS]
    cols = [prices.codes.index("SPY"), prices.codes.index("AGG")]
    expected = []
    w0 = np.array([0.6, 0.4])
    drifted = np.zeros(2)
    for period in (r[:TEST_DAYS, cols], r[TEST_DAYS:, cols]):
        value = w0 * np.cumprod(1 + period, axis=0)
        nav = np.concatenate(([1.0], value.sum(axis=1)))
        rets = nav[1:] / nav[:-1] - 1
        rets[0] -= COST_RATE * np.abs(w0 - drifted).sum()
        drifted = value[-1] / value[-1].sum()
        expected.extend(rets)
    np.testing.assert_allclose(bench.returns, expected, rtol=1e-12)


def test_metrics_by_hand() -> None:
    returns = np.array([0.01, -0.02, 0.03, -0.05, 0.01] * 60)
    m = Metrics.of(returns)
    nav = np.cumprod(1 + returns)
    assert m.annual_volatility == pytest.approx(returns.std(ddof=1) * np.sqrt(252))
    assert m.max_drawdown == pytest.approx(max_drawdown(np.concatenate(([1.0], nav))))
    assert m.cvar_95 == pytest.approx(0.05)  # the worst 5% of 300 days are the 15 -5% days
    assert m.annual_return == pytest.approx(nav[-1] ** (252 / 300) - 1)


def test_too_short_a_window_is_refused() -> None:
    with pytest.raises(ValidationError) as info:
        build_models(end=dt.date(2007, 12, 31))
    assert info.value.field == "window"


def test_report_is_self_contained_html(report: ModelReport) -> None:
    page = render_report(report)
    assert page.startswith("<!doctype html>") and "<script" not in page
    assert page.count("<polyline") == 2 * 7  # two charts, five models and two benchmarks
    for name in ("C1", "C5", "equal weight", "60/40", "Risk ordered out of sample"):
        assert name in page


@pytest.mark.parametrize(
    ("weights", "field"),
    [
        ({"SPY": 0.6, "AGG": 0.3}, "weights"),  # sums to 0.9
        ({"SPY": 0.7, "AGG": 0.4}, "weights"),
        ({"SPY": 1.2, "AGG": -0.2}, "weights.AGG"),
        ({"SPY": 0.5, "NOPE": 0.5}, "weights.NOPE"),
        ({"SPY": 0.5, "FB-USD-DEP": 0.5}, "weights.FB-USD-DEP"),  # no price history
        ({}, "weights"),
    ],
)
def test_hand_made_model_weights_are_checked(weights: dict[str, float], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        check_weights(weights, load_prices().codes)
    assert info.value.field == field


def test_hand_made_model_is_evaluated_like_the_benchmarks() -> None:
    prices = load_prices()
    mine = evaluate_weights({"SPY": 0.6, "AGG": 0.4})
    bench = fixed_weights("60/40", {"SPY": 0.6, "AGG": 0.4}, prices,
                          slice(0, len(prices.dates) - 1))  # fmt: skip
    np.testing.assert_allclose(mine.returns, bench.returns)
    assert mine.metrics.risk_level == bench.metrics.risk_level


def test_warm_builds_the_models_once_for_every_later_read(
    service: AdvisoryService, small_models: ModelReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What ``finbridge serve`` does at start: the walk-forward runs once, in ``warm``; the
    model reads afterwards (API, report) are served from it without building again."""
    import finbridge.advisory.portfolios as portfolios

    builds: list[int] = []

    def counted_build(**settings: object) -> ModelReport:
        assert settings == {"max_turnover": service.config.max_turnover}
        builds.append(1)
        return small_models

    monkeypatch.setattr(portfolios, "build_models", counted_build)
    service.warm()
    assert builds == [1]
    assert service.model_portfolios(SYSTEM) is small_models
    assert "C5" in service.report_html(SYSTEM)
    assert builds == [1]
