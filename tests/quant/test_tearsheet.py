from __future__ import annotations

import datetime as dt

import empyrical
import numpy as np
import polars as pl
import pytest

from finbridge.quant import metrics
from finbridge.quant.backtest import CN_ASHARE, MACrossover, MarketData, run_backtest
from finbridge.quant.data import load_cn_bars
from finbridge.quant.tearsheet import render_tearsheet


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    bars = load_cn_bars(start=dt.date(2017, 1, 1), end=dt.date(2018, 12, 31))
    return run_backtest(
        MarketData.from_bars(bars, benchmark="SH000300"), MACrossover(5, 20), CN_ASHARE
    )


def test_metrics_agree_with_empyrical(result) -> None:  # type: ignore[no-untyped-def]
    r, b = result.returns, result.benchmark_returns
    assert metrics.annual_return(r) == pytest.approx(empyrical.annual_return(r), rel=1e-9)
    assert metrics.annual_volatility(r) == pytest.approx(empyrical.annual_volatility(r), rel=1e-9)
    assert metrics.sharpe(r) == pytest.approx(empyrical.sharpe_ratio(r), rel=1e-9)
    assert metrics.sortino(r) == pytest.approx(empyrical.sortino_ratio(r), rel=1e-9)
    assert metrics.max_drawdown(r) == pytest.approx(empyrical.max_drawdown(r), rel=1e-9)
    s = metrics.summarize(r, b)
    assert s.calmar == pytest.approx(empyrical.calmar_ratio(r), rel=1e-9)
    assert s.total_return == pytest.approx(empyrical.cum_returns_final(r), rel=1e-9)
    assert metrics.rolling_sharpe(r, 63)[-1] == pytest.approx(
        empyrical.sharpe_ratio(r[-63:]), rel=1e-9
    )
    assert s.information_ratio == pytest.approx(
        empyrical.excess_sharpe(r, b) * np.sqrt(252), rel=1e-9
    )


def test_tearsheet_html_has_every_chart_and_escapes_titles(result) -> None:  # type: ignore[no-untyped-def]
    ic = pl.DataFrame({"date": list(result.dates[:50]), "ic": np.linspace(-0.1, 0.1, 50)})
    page = render_tearsheet(result, title="<script>x</script>", ic=ic, notes=["survivorship"])
    for chart in (
        "Cumulative return",
        "Cumulative excess return",
        "Drawdown",
        "Rolling Sharpe",
        "Turnover",
        "Exposure",
        "IC over time",
    ):
        assert f"<h3>{chart}" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert page.count("<svg") == 7
