"""China A-share and US rules in the event-driven engine, on small hand-made bars."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl
import pytest
from tests.quant.conftest import make_bars

from finbridge.core.errors import InsufficientFunds, NotFound, ValidationError
from finbridge.quant.backtest import (
    CN_ASHARE,
    US,
    Context,
    MarketData,
    Strategy,
    TopKDropout,
    make_strategy,
    run_backtest,
)
from finbridge.quant.data import load_cn_bars

NO_COSTS = CN_ASHARE.with_costs(commission_buy=0.0, commission_sell=0.0, min_commission=0.0)


class Script(Strategy):
    """Places the orders listed for each session index."""

    def __init__(self, plan: dict[int, list[tuple[str, float]]]) -> None:
        self.plan = plan

    def on_bar(self, ctx: Context) -> None:
        for instrument, qty in self.plan.get(ctx.t, []):
            ctx.order(instrument, qty)


class SameDayRoundTrip(Strategy):
    """Buys at session 1's fill and tries to sell in the same session (through a hook)."""

    def on_bar(self, ctx: Context) -> None:
        if ctx.t == 0:
            ctx.order("A", 100)
            ctx.order("A", -100)


def run(bars: pl.DataFrame, strategy: Strategy, profile=CN_ASHARE, **kw):  # type: ignore[no-untyped-def]
    return run_backtest(MarketData.from_bars(bars), strategy, profile, **kw)


def reasons(result) -> list[str]:  # type: ignore[no-untyped-def]
    return result.rejections["reason"].to_list()


def test_t_plus_one_blocks_selling_shares_bought_the_same_day_but_us_allows_it() -> None:
    bars = make_bars({"A": [10.0, 10.0, 10.0]})
    cn = run(bars, SameDayRoundTrip(), NO_COSTS)
    assert cn.trades["side"].to_list() == ["buy"]
    assert reasons(cn) == ["T+1: nothing sellable"]
    us = run(bars, SameDayRoundTrip(), US)
    assert us.trades["side"].to_list() == ["buy", "sell"]
    # From the next session the CN shares are sellable.
    later = run(bars, Script({0: [("A", 100)], 1: [("A", -100)]}), NO_COSTS)
    assert later.trades["side"].to_list() == ["buy", "sell"]


def test_buys_round_down_to_100_share_lots_and_odd_lots_only_close_a_position() -> None:
    bars = make_bars({"A": [10.0] * 4})
    result = run(bars, Script({0: [("A", 250)], 1: [("A", -150)], 2: [("A", -50)]}), NO_COSTS)
    assert result.trades["quantity"].to_list() == [200, 100]  # 150 -> 1 lot; 50 < a lot
    assert reasons(result) == ["below one lot"]
    us = run(bars, Script({0: [("A", 250)]}), US)
    assert us.trades["quantity"].to_list() == [250]
    small = run(bars, Script({0: [("A", 99)]}), NO_COSTS)
    assert small.trades.height == 0 and reasons(small) == ["below one lot"]


@pytest.mark.parametrize(
    ("code", "day", "move", "blocked"),
    [
        ("SH600000", dt.date(2024, 1, 2), 0.10, True),  # main board 10%
        ("SH600000", dt.date(2024, 1, 2), 0.09, False),
        ("SZ300059", dt.date(2024, 1, 2), 0.10, False),  # ChiNext 20% since 2020-08-24
        ("SZ300059", dt.date(2024, 1, 2), 0.20, True),
        ("SZ300059", dt.date(2019, 1, 2), 0.10, True),  # ...but 10% before
        ("SH688001", dt.date(2024, 1, 2), 0.15, False),  # STAR 20%
    ],
)
def test_daily_price_limits_block_buys_at_the_up_limit(
    code: str, day: dt.date, move: float, blocked: bool
) -> None:
    bars = make_bars({code: [10.0, 10.0 * (1 + move), 10.0]}, start=day)
    result = run(bars, Script({0: [(code, 100)]}), NO_COSTS, fill="close")
    assert (result.trades.height == 0) is blocked
    if blocked:
        assert reasons(result) == ["limit up"]


def test_sells_at_the_down_limit_do_not_fill_and_st_names_have_5pct_limits() -> None:
    bars = make_bars({"A": [10.0, 10.0, 9.0, 9.0]})
    result = run(bars, Script({0: [("A", 100)], 1: [("A", -100)]}), NO_COSTS, fill="close")
    assert reasons(result) == ["limit down"]
    st_bars = make_bars({"SH600001": [10.0, 10.5, 10.5]})
    data = MarketData.from_bars(st_bars, st=["SH600001"])
    st = run_backtest(data, Script({0: [("SH600001", 100)]}), NO_COSTS, fill="close")
    assert reasons(st) == ["limit up"]


def test_suspension_no_bar_or_zero_volume_means_no_trade() -> None:
    bars = make_bars(
        {"A": [10.0, None, 10.0, 10.0], "B": [5.0, 5.0, 5.0, 5.0]},
        volumes={"A": [1e6, 1e6, 0.0, 1e6]},
    )
    result = run(bars, Script({0: [("A", 100)], 1: [("A", 100)], 2: [("A", 100)]}), NO_COSTS)
    assert reasons(result) == ["suspended", "suspended"]
    assert result.trades["date"].to_list() == [result.dates[3]]


def test_an_exchange_session_without_any_bar_is_a_day_without_trading() -> None:
    # 2024-03-04..08 are XSHG sessions; the bars skip Wednesday 03-06 for everyone.
    bars = make_bars({"A": [10.0, 10.0, 10.0, 10.0]}, start=dt.date(2024, 3, 4))
    bars = bars.with_columns(
        date=pl.when(pl.col("date") >= dt.date(2024, 3, 6))
        .then(pl.col("date") + pl.duration(days=1))
        .otherwise(pl.col("date"))
    )
    data = MarketData.from_bars(bars, calendar="cn")
    assert dt.date(2024, 3, 6) in data.dates and len(data.dates) == 5
    result = run_backtest(data, Script({1: [("A", 100)], 2: [("A", 100)]}), NO_COSTS)
    assert reasons(result) == ["suspended"]  # ordered on 03-05, the next session had no bar
    assert result.trades["date"].to_list() == [dt.date(2024, 3, 7)]


def test_commission_minimum_and_stamp_duty_before_and_after_the_2023_cut() -> None:
    plan = Script({0: [("A", 1000)], 1: [("A", -1000)]})
    old = run(make_bars({"A": [10.0] * 3}, start=dt.date(2023, 8, 23)), plan)
    buy, sell = old.trades.row(0, named=True), old.trades.row(1, named=True)
    assert buy["commission"] == 5.0  # 0.03% of 10,000 = 3 < 5 minimum
    assert sell["stamp_duty"] == pytest.approx(10.0)  # 0.1% on 2023-08-25
    new = run(make_bars({"A": [10.0] * 3}, start=dt.date(2023, 8, 25)), plan)
    assert new.trades.row(1, named=True)["stamp_duty"] == pytest.approx(5.0)  # 0.05% on 08-28
    assert new.equity[-1] == pytest.approx(1_000_000 - 5 - 5 - 5)


def test_slippage_moves_fill_prices_against_the_trader() -> None:
    profile = NO_COSTS.with_costs(slippage=0.001)
    result = run(make_bars({"A": [10.0] * 3}), Script({0: [("A", 100)], 1: [("A", -100)]}), profile)
    assert result.trades["price"].to_list() == pytest.approx([10.01, 9.99])


@pytest.mark.parametrize("policy", ["reduce", "reject", "raise"])
def test_ordering_more_than_cash_allows(policy: str) -> None:
    bars = make_bars({"A": [10.0] * 3})
    go: Callable[[], object] = lambda: run(  # noqa: E731
        bars,
        Script({0: [("A", 10_000)]}),
        CN_ASHARE,
        initial_cash=50_000,
        on_insufficient_cash=policy,
    )
    if policy == "raise":
        with pytest.raises(InsufficientFunds, match=r"cash is 50000\.00"):
            go()
        return
    result = go()
    if policy == "reject":
        assert result.trades.height == 0 and reasons(result) == ["insufficient cash"]
    else:
        (qty,) = result.trades["quantity"].to_list()
        assert qty == 4900  # 5,000 would need 50,015 with commission
        assert result.cash[-1] >= 0
        assert reasons(result) == ["reduced: insufficient cash"]


def test_unknown_instrument_and_bad_inputs() -> None:
    bars = make_bars({"A": [10.0] * 3})
    with pytest.raises(NotFound, match="unknown instrument 'ZZZ'"):
        run(bars, Script({0: [("ZZZ", 100)]}))
    with pytest.raises(ValidationError, match="initial cash"):
        run(bars, Script({}), initial_cash=0)
    with pytest.raises(ValidationError, match="unknown strategy"):
        make_strategy("com.evil.Strategy")
    with pytest.raises(ValidationError, match="bad parameters"):
        make_strategy("ma_crossover", nope=1)


def test_topk_dropout_on_real_data_keeps_k_names_and_drops_at_most_n() -> None:
    bars = load_cn_bars(start=dt.date(2019, 1, 1), end=dt.date(2019, 6, 30))
    # A deterministic signal: yesterday's 5-day momentum (it only uses the past).
    signal = bars.sort("instrument", "date").select(
        "instrument",
        "date",
        score=(pl.col("close") / pl.col("close").shift(5) - 1).over("instrument"),
    )
    data = MarketData.from_bars(bars, benchmark="SH000300", signal=signal)
    result = run_backtest(data, TopKDropout(topk=10, n_drop=2), CN_ASHARE, fill="close")
    held_per_day = result.trades.group_by("date").agg(
        (pl.col("side") == "sell").sum().alias("sells"),
        (pl.col("side") == "buy").sum().alias("buys"),
    )
    assert held_per_day["sells"].max() <= 2
    assert result.trades.filter(pl.col("side") == "buy").height >= 10
    assert result.benchmark is not None and 0.8 < result.gross_exposure[-1] <= 1.0
