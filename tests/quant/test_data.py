from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from tests.quant.conftest import make_bars

from finbridge.core.errors import NotFound, ValidationError
from finbridge.quant.data import (
    CSI300_INDEX,
    BarStore,
    Membership,
    calendar_gaps,
    load_cn_bars,
    load_us_bars,
    trading_days,
    validate_bars,
)


def test_bundled_cn_slice_loads_with_the_index_and_adjustment_factor() -> None:
    bars = load_cn_bars(
        ["SH600000", CSI300_INDEX], start=dt.date(2016, 1, 1), end=dt.date(2016, 12, 31)
    )
    assert set(bars["instrument"].unique()) == {"SH600000", CSI300_INDEX}
    assert bars["date"].min() >= dt.date(2016, 1, 1)
    assert bars.filter(pl.col("instrument") == "SH600000")["factor"].min() > 1  # adjusted data
    assert bars.filter(pl.col("instrument") == CSI300_INDEX)["factor"].unique().to_list() == [1.0]


def test_us_stocks_and_etfs_load() -> None:
    stocks = load_us_bars(["AAPL"])
    etfs = load_us_bars(["SPY"], kind="etfs")
    assert stocks.height > 1000 and etfs.height > 1000
    assert stocks["factor"].unique().to_list() == [1.0]


def test_unknown_symbol_is_a_clear_not_found() -> None:
    with pytest.raises(NotFound, match="unknown instruments: NOPE"):
        load_cn_bars(["SH600000", "NOPE"])


def test_zero_price_raises_or_is_dropped_as_a_suspension() -> None:
    bars = make_bars({"A": [10.0, 0.0, 11.0]})
    with pytest.raises(ValidationError, match="zero, negative or missing price"):
        validate_bars(bars)
    assert validate_bars(bars, on_bad="drop").height == 2


def test_zero_volume_bar_is_kept_but_not_tradable() -> None:
    bars = validate_bars(make_bars({"A": [10.0, 10.5, 11.0]}, volumes={"A": [1e6, 0.0, 1e6]}))
    assert bars["tradable"].to_list() == [True, False, True]


def test_duplicate_bars_are_refused() -> None:
    bars = make_bars({"A": [10.0, 10.5]})
    with pytest.raises(ValidationError, match="duplicate"):
        validate_bars(pl.concat([bars, bars.head(1)]))


def test_exchange_calendars_skip_holidays() -> None:
    cn = trading_days("cn", dt.date(2024, 2, 5), dt.date(2024, 2, 23))
    assert dt.date(2024, 2, 12) not in cn  # Spring Festival week on the Shanghai exchange
    us = trading_days("us", dt.date(2024, 7, 1), dt.date(2024, 7, 5))
    assert dt.date(2024, 7, 4) not in us and dt.date(2024, 7, 5) in us
    with pytest.raises(ValidationError, match="unknown market calendar"):
        trading_days("mars", dt.date(2024, 1, 1), dt.date(2024, 1, 5))


def test_calendars_are_built_for_the_asked_range_not_around_today() -> None:
    # exchange_calendars' default window is [today - 20 years, today + 1 year]: a range
    # before it used to be clamped silently, and the answer depended on the day of the run.
    old = trading_days("us", dt.date(1995, 7, 3), dt.date(1995, 7, 7))
    assert old == [dt.date(1995, 7, d) for d in (3, 5, 6, 7)]  # 4 July 1995 closed
    assert trading_days("xshe", dt.date(2024, 2, 5), dt.date(2024, 2, 9)) == trading_days(
        "cn", dt.date(2024, 2, 5), dt.date(2024, 2, 9)
    )  # Shenzhen trades on Shanghai's calendar
    # Past the holidays the calendar records, the range is clipped, never an error.
    late = trading_days("cn", dt.date(2026, 12, 28), dt.date(2031, 1, 10))
    assert late and max(late) <= dt.date(2026, 12, 31)


def test_calendar_gaps_list_sessions_without_a_bar() -> None:
    bars = make_bars({"A": [10.0, None, 10.2, 10.3]}, start=dt.date(2024, 3, 4))
    gaps = calendar_gaps(bars, "cn")
    assert gaps["date"].to_list() == [dt.date(2024, 3, 5)]


def test_point_in_time_membership() -> None:
    members = Membership.csi300()
    # SZ300003 joined CSI 300 inside the slice's window (see the TSV): in from that day only.
    spans = members.intervals.filter(pl.col("instrument") == "SZ300003")
    assert spans.height >= 1
    first = spans.row(0, named=True)
    inside, outside = first["start"], first["start"] - dt.timedelta(days=1)
    assert "SZ300003" in members.members_on(inside)
    assert "SZ300003" not in members.members_on(outside)
    bars = load_cn_bars(["SZ300003"])
    kept = members.restrict(bars)
    assert 0 < kept.height < bars.height
    assert kept["date"].min() >= max(first["start"], bars["date"].min())


def test_bar_store_roundtrip_with_polars_and_duckdb(tmp_path: Path) -> None:
    store = BarStore(tmp_path)
    store.write("cn", load_cn_bars(["SH600000", "SH600036"], end=dt.date(2015, 3, 31)))
    lazy = store.scan("cn").filter(pl.col("instrument") == "SH600036").collect()
    assert lazy.height > 50
    out = store.sql("SELECT instrument, count(*) AS n FROM cn GROUP BY instrument ORDER BY 1")
    assert out["n"].to_list() == [lazy.height, lazy.height]
    with pytest.raises(NotFound, match="no bars stored"):
        store.scan("us")
    with pytest.raises(ValidationError, match="identifier"):
        store.path("cn; DROP")
