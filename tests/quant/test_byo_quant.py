"""Bring your own prices: import against a calendar, profiles as data, honest run warnings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from tests.quant.conftest import make_bars

from finbridge.core import Principal
from finbridge.core.errors import ValidationError
from finbridge.quant import QuantService
from finbridge.quant.backtest import (
    CN_ASHARE,
    PROFILES,
    UK,
    BuyAndHold,
    MACrossover,
    MarketData,
    load_profile,
    run_backtest,
)
from finbridge.quant.data import trading_days
from finbridge.quant.diagnostics import run_warnings
from finbridge.quant.imports import MarketStore, to_bars

ADMIN = Principal.system("quant-byo")


def london(start: dt.date, end: dt.date, names: tuple[str, ...] = ("BARC", "HSBA")) -> pl.DataFrame:
    """Wide closes on every XLON session (a random walk per name)."""
    days = trading_days("XLON", start, end)
    rng = np.random.default_rng(7)
    cols: dict[str, object] = {"Date": days}
    for name in names:
        cols[name] = 100 * np.exp(np.cumsum(rng.normal(0.0003, 0.012, len(days))))
    return pl.DataFrame(cols)


class TestProfiles:
    def test_shipped_profiles_are_data(self) -> None:
        assert set(PROFILES) >= {"cn", "us", "uk"}
        assert UK.currency == "GBP" and UK.calendar == "XLON" and UK.stamp_duty == ()
        assert UK.buy_tax_rate(dt.date(2005, 1, 4)) == 0.005
        assert UK.buy_tax_rate(dt.date(1985, 1, 2)) == 0.01
        assert CN_ASHARE.stamp_rate(dt.date(2023, 8, 25)) == 0.001
        assert CN_ASHARE.stamp_rate(dt.date(2023, 8, 28)) == 0.0005
        assert CN_ASHARE.buy_tax_rate(dt.date(2024, 1, 2)) == 0.0

    def test_bad_profile_file_names_the_key(self, tmp_path: Path) -> None:
        path = tmp_path / "xx.yaml"
        path.write_text(
            "name: xx\ncurrency: GBP\nlot_size: 1\nt_plus: 0\ncommission_buy: 0\n"
            "commission_sell: 0\nmin_commission: 0\nprice_limits: none\n"
            "taxes: [{name: t, side: both, rate: 0.01, from: 2000-01-01}]\n"
        )
        with pytest.raises(ValidationError, match=r"taxes\.0\.side") as err:
            load_profile(path)
        assert err.value.field == "taxes.0.side"

    def test_price_limits_are_data(self, tmp_path: Path) -> None:
        # A made-up market: 7% limits, 15% on a "9" board from 2024; 3% for flagged names.
        path = tmp_path / "zz.yaml"
        head = ("name: zz\ncurrency: CNY\nlot_size: 1\nt_plus: 0\ncommission_buy: 0\n"
                "commission_sell: 0\nmin_commission: 0\n")  # fmt: skip
        path.write_text(
            head + "price_limits:\n  default: 0.07\n  special_treatment: 0.03\n"
            "  boards: [{prefixes: ['9'], limit: 0.15, from: 2024-01-01}]\n"
        )
        zz = load_profile(path)
        assert zz.limit("ZZ100001", dt.date(2024, 5, 6)) == 0.07
        assert zz.limit("ZZ900001", dt.date(2023, 12, 29)) == 0.07
        assert zz.limit("ZZ900001", dt.date(2024, 1, 2)) == 0.15
        assert zz.limit("ZZ900001", dt.date(2024, 1, 2), st=True) == 0.03
        assert CN_ASHARE.limit("SZ300059", dt.date(2020, 8, 24)) == 0.20  # the CN file's board
        assert UK.limit("VOD", dt.date(2024, 1, 2)) == float("inf")
        path.write_text(head + "price_limits:\n  default: 1.5\n")
        with pytest.raises(ValidationError) as err:
            load_profile(path)
        # the loader names pydantic's location, with the union branch that was tried
        assert err.value.field == "price_limits._Limits.default"
        assert "less than or equal to 1" in str(err.value)

    def test_stamp_duty_on_buys(self) -> None:
        bars = make_bars({"A": [10.0, 10.0, 10.0]})
        result = run_backtest(MarketData.from_bars(bars), BuyAndHold(), UK, initial_cash=10_000)
        buy = result.trades.row(0, named=True)
        assert buy["side"] == "buy"
        assert buy["stamp_duty"] == pytest.approx(buy["quantity"] * buy["price"] * 0.005)
        spent = buy["quantity"] * buy["price"] + buy["stamp_duty"] + buy["commission"]
        assert float(result.cash[-1]) == pytest.approx(10_000 - spent)
        assert spent <= 10_000


class TestImport:
    def test_wide_close_only_on_its_calendar(self, tmp_path: Path) -> None:
        frame = london(dt.date(2005, 1, 1), dt.date(2005, 12, 31))
        frame.write_csv(tmp_path / "lse.csv")
        info = MarketStore(tmp_path / "m").import_file(
            tmp_path / "lse.csv", market="lse", calendar="XLON"
        )
        assert (info.profile, info.currency, info.close_only, info.layout) == (
            "uk", "GBP", True, "wide",
        )  # fmt: skip
        assert info.missing_sessions == [] and info.instruments == 2
        bars = MarketStore(tmp_path / "m").load(
            "lse", None, dt.date(2005, 1, 1), dt.date(2006, 1, 1)
        )
        assert bars["tradable"].all() and (bars["open"] == bars["close"]).all()

    def test_a_windows_export_is_decoded_in_its_own_encoding(self, tmp_path: Path) -> None:
        # A spreadsheet export: cp1252 text (the pound sign is 0xA3, invalid as UTF-8).
        frame = london(dt.date(2005, 1, 1), dt.date(2005, 3, 31), names=("BARC £", "HSBA £"))
        path = tmp_path / "lse.csv"
        path.write_bytes(frame.write_csv().encode("cp1252"))
        with pytest.raises(UnicodeDecodeError):
            path.read_bytes().decode("utf-8")
        store = MarketStore(tmp_path / "m")
        info = store.import_file(path, market="lse", calendar="XLON")
        assert info.instruments == 2
        bars = store.load("lse", None, dt.date(2005, 1, 1), dt.date(2005, 4, 1))
        assert set(bars["instrument"].unique()) == {"BARC £", "HSBA £"}
        with pytest.raises(ValidationError, match="not valid utf-8") as err:
            store.import_file(path, market="lse2", calendar="XLON", encoding="utf-8")
        assert err.value.field == "encoding"

    def test_missing_sessions_reported_and_refused_above_threshold(self, tmp_path: Path) -> None:
        frame = london(dt.date(2005, 1, 1), dt.date(2005, 12, 31))
        dropped = frame["Date"][[10, 20]].to_list()
        frame.filter(~pl.col("Date").is_in(dropped)).write_csv(tmp_path / "gaps.csv")
        store = MarketStore(tmp_path / "m")
        info = store.import_file(tmp_path / "gaps.csv", market="gaps", calendar="XLON")
        assert info.missing_sessions == [d.isoformat() for d in dropped]  # reported, not filled
        with pytest.raises(ValidationError, match="2 of 252 XLON sessions") as err:
            store.import_file(tmp_path / "gaps.csv", market="g2", calendar="XLON", max_missing=0)
        assert err.value.field == "calendar"
        assert not store.bars.path("g2").exists()  # nothing half-written

    def test_the_wrong_calendar_is_refused(self, tmp_path: Path) -> None:
        london(dt.date(2005, 1, 1), dt.date(2006, 12, 31)).write_csv(tmp_path / "lse.csv")
        with pytest.raises(ValidationError, match=r"XNYS was closed.*right calendar"):
            MarketStore(tmp_path / "m").import_file(
                tmp_path / "lse.csv", market="lse", calendar="XNYS"
            )

    def test_long_ohlc_with_ticker_column(self, tmp_path: Path) -> None:
        bars = make_bars(
            {"AAA": [10.0, 11.0, 12.0], "BBB": [5.0, 5.5, 6.0]}, start=dt.date(2024, 7, 1)
        )
        long = bars.rename({"instrument": "Ticker", "date": "Date"}).drop("factor")
        long.write_parquet(tmp_path / "long.parquet")
        info = MarketStore(tmp_path / "m").import_file(
            tmp_path / "long.parquet", market="usx", calendar="XNYS", profile="us"
        )
        assert info.close_only is False and info.layout == "long" and info.rows == 6

    @pytest.mark.parametrize(
        ("content", "kwargs", "message"),
        [
            ("", {}, "is empty"),
            ("when,AAA\n2024-01-02,1\n", {}, "no date column"),
            ("date,AAA\nsoon,1\n", {}, "not dates"),
            ("date,AAA\n2024-01-02,abc\n", {}, "must be numbers"),
            ("date,ticker,close\n2024-01-02,A,-1\n", {}, "zero, negative or missing price"),
            ("date,ticker,close\n2024-01-02,A,1\n2024-01-02,A,2\n", {}, "duplicate"),
            ("date,ticker\n2024-01-02,A\n", {}, "needs a close column"),
            ("date,AAA\n2024-01-02,1\n", {"calendar": "MARS"}, "unknown exchange calendar"),
            ("date,AAA\n2024-01-02,1\n", {"market": "us"}, "not cn or us"),
            ("date,AAA\n2024-01-02,1\n", {"calendar": "XTKS"}, "no shipped market profile"),
            ("date,AAA\n2024-01-02,1\n", {"profile": "mars"}, "unknown market profile"),
        ],
    )
    def test_bad_files_are_one_message(
        self, tmp_path: Path, content: str, kwargs: dict[str, str], message: str
    ) -> None:
        path = tmp_path / "p.csv"
        path.write_text(content)
        args = {"market": "mine", "calendar": "XNYS", **kwargs}
        with pytest.raises(ValidationError, match=message):
            MarketStore(tmp_path / "m").import_file(path, **args)  # type: ignore[arg-type]

    def test_single_instrument_ohlcv_is_not_a_wide_table(self, tmp_path: Path) -> None:
        bars = make_bars({"X": [10.0, 11.0, 12.0]}, start=dt.date(2024, 7, 1))
        spx = bars.select(
            pl.col("date").alias("Date"), pl.col("open").alias("Open"),
            pl.col("high").alias("High"), pl.col("low").alias("Low"),
            pl.col("close").alias("Close"), pl.col("close").alias("Adj Close"),
            pl.col("volume").alias("Volume"),
        )  # fmt: skip
        spx.write_parquet(tmp_path / "spx.parquet")
        store = MarketStore(tmp_path / "m")
        info = store.import_file(tmp_path / "spx.parquet", market="spx", calendar="XNYS")
        assert (info.instruments, info.close_only, info.layout) == (1, False, "long")
        loaded = store.load("spx", None, dt.date(2024, 7, 1), dt.date(2024, 7, 5))
        assert loaded["instrument"].unique().to_list() == ["SPX"]

    def test_to_bars_layouts(self) -> None:
        wide = pl.DataFrame({"date": [dt.date(2024, 1, 2)] * 1, "A": [1.0], "B": [None]})
        bars, layout, close_only = to_bars(wide)
        assert (layout, close_only, bars.height) == ("wide", True, 1)  # no price, no bar


class TestWarnings:
    def test_holes_blank_the_moving_averages_and_say_so(self) -> None:
        rng = np.random.default_rng(3)
        closes = list(100 * np.exp(np.cumsum(rng.normal(0, 0.02, 300))))
        holed = [None if k % 15 == 7 else c for k, c in enumerate(closes)]
        # B trades every session, so A's missing days are sessions without A's price
        data = MarketData.from_bars(make_bars({"A": holed, "B": closes}))
        strategy = MACrossover(5, 20)
        result = run_backtest(data, strategy, UK.with_costs(buy_tax=()))
        warnings = run_warnings(result, data, strategy)
        assert any("for 1 of 2 instruments the MA 5/20" in w for w in warnings), warnings
        assert any("have no price" in w for w in warnings)
        complete = MarketData.from_bars(make_bars({"A": closes, "B": closes}))
        clean = run_backtest(complete, strategy, UK)
        assert run_warnings(clean, complete, strategy) == []

    def test_fills_that_stop_early(self) -> None:
        # down, then up (one buy), then flat: the MAs never cross again and the position sits
        closes = [14.0 - k * 0.1 for k in range(20)] + [12.0 + k * 0.1 for k in range(20)]
        closes += [14.0] * 160
        data = MarketData.from_bars(make_bars({"A": closes}))
        strategy = MACrossover(3, 10)
        result = run_backtest(data, strategy, UK)
        warnings = run_warnings(result, data, strategy)
        assert any("of the way through the run" in w for w in warnings), warnings


class TestService:
    def test_run_on_an_imported_market_and_failed_runs(
        self, sqlite_engine, clock, tmp_path
    ) -> None:
        service = QuantService(sqlite_engine, clock, markets_dir=tmp_path / "m")
        london(dt.date(2004, 1, 1), dt.date(2006, 12, 31)).write_csv(tmp_path / "lse.csv")
        service.import_market(ADMIN, tmp_path / "lse.csv", market="lse", calendar="XLON")
        assert [m.name for m in service.markets(ADMIN)] == ["lse"]
        config = {
            "name": "lse ma",
            "market": "lse",
            "data": {"start": "2005-01-04", "end": "2006-12-29"},
            "strategy": {"name": "ma_crossover", "params": {"fast": 10, "slow": 40}},
        }
        run = service.run(ADMIN, config)
        assert run.currency == "GBP" and run.status == "succeeded"
        assert "close-only" in run.summary["data_note"]
        assert isinstance(run.summary["warnings"], list)
        assert "close-only" in service.tearsheet(ADMIN, run.id)
        with pytest.raises(ValidationError, match="no imported market 'nowhere'"):
            service.run(ADMIN, {**config, "market": "nowhere"})
        failed = [r for r in service.list_runs(ADMIN) if r.status == "failed"]
        assert len(failed) == 1 and "nowhere" in (failed[0].error or "")


@pytest.mark.slow
def test_cli_import_backtest_and_runs(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from finbridge.cli.main import app

    runner = CliRunner(env={"FINBRIDGE_DATA_DIR": str(tmp_path / "var")})
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    london(dt.date(2004, 1, 1), dt.date(2006, 12, 31)).write_csv(tmp_path / "lse.csv")
    imp = ["quant", "data", "import", str(tmp_path / "lse.csv"), "--market", "lse"]
    wrong = runner.invoke(app, [*imp, "--calendar", "XNYS"])
    assert wrong.exit_code == 2 and "right calendar" in " ".join(wrong.output.split())
    ok = runner.invoke(app, [*imp, "--calendar", "XLON"])
    assert ok.exit_code == 0 and "close-only" in ok.output, ok.output
    assert "lse" in runner.invoke(app, ["quant", "data", "markets"]).output
    config = tmp_path / "run.yaml"
    config.write_text(
        "name: lse-ma\nmarket: lse\ndata: {start: 2005-01-04, end: 2006-12-29}\n"
        "strategy: {name: ma_crossover, params: {fast: 10, slow: 40}}\n"
    )
    run = runner.invoke(app, ["quant", "backtest", str(config)])
    assert run.exit_code == 0 and "GBP" in run.output and "close-only" in run.output, run.output
    config.write_text(config.read_text().replace("market: lse", "market: nowhere"))
    failed = runner.invoke(app, ["quant", "backtest", str(config)])
    assert failed.exit_code == 2 and "no imported market" in failed.output
    assert "failed" in runner.invoke(app, ["quant", "runs"]).output
    shown = runner.invoke(app, ["quant", "profiles"]).output
    assert "XLON" in shown and "300/301* 20% from 2020-08-24" in shown, shown


def test_api_lists_imported_markets_and_profiles(settings, sqlite_engine, clock, tmp_path) -> None:
    from fastapi.testclient import TestClient
    from tests.api.conftest import issue_key

    from finbridge.core import Role
    from finbridge.platform import Platform
    from finbridge.site import create_app

    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    london(dt.date(2005, 1, 1), dt.date(2005, 6, 30)).write_csv(tmp_path / "lse.csv")
    platform.quant.import_market(ADMIN, tmp_path / "lse.csv", market="lse", calendar="XLON")
    client = TestClient(create_app(platform=platform))
    assert client.get("/v1/quant/markets").status_code == 401
    auth = {"Authorization": f"Bearer {issue_key(platform, [Role.QUANT_RESEARCHER])}"}
    markets = client.get("/v1/quant/markets", headers=auth).json()
    assert [(m["name"], m["calendar"], m["close_only"]) for m in markets] == [("lse", "XLON", True)]
    profiles = {p["name"]: p for p in client.get("/v1/quant/profiles", headers=auth).json()}
    assert {"side": "buy", "rate": 0.005, "since": "1986-10-27"} in profiles["uk"]["taxes"]
    assert profiles["uk"]["price_limits"] is None
    cn = profiles["cn"]["price_limits"]
    assert cn["default"] == 0.1 and cn["special_treatment"] == 0.05
    assert {"prefixes": ["688"], "limit": 0.2, "since": None} in cn["boards"]
    teller = {"Authorization": f"Bearer {issue_key(platform, [Role.TELLER])}"}
    assert client.get("/v1/quant/markets", headers=teller).status_code == 403


def test_console_shows_imported_markets_warnings_and_errors(
    settings, sqlite_engine, clock, tmp_path
) -> None:
    from fastapi.testclient import TestClient
    from tests.api.conftest import issue_key
    from tests.web.conftest import log_in

    from finbridge.core import Principal, Role
    from finbridge.platform import Platform
    from finbridge.site import create_app

    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    london(dt.date(2004, 1, 1), dt.date(2005, 6, 30)).write_csv(tmp_path / "lse.csv")
    platform.quant.import_market(ADMIN, tmp_path / "lse.csv", market="lse", calendar="XLON")
    client = TestClient(create_app(platform=platform))
    key = issue_key(platform, [Role.ADMIN])
    log_in(client, key)
    config = {
        "name": "lse slow ma",
        "market": "lse",
        "data": {"start": "2005-01-04", "end": "2005-06-30"},
        "strategy": {"name": "ma_crossover", "params": {"fast": 100, "slow": 200}},
    }
    actor = Principal.system("console-test")  # the console's admin sees every owner's runs
    run = platform.quant.run(actor, config)
    assert run.summary["warnings"]  # 200-day MA on 6 months: no order ever fills
    with pytest.raises(ValidationError):
        platform.quant.run(actor, {**config, "market": "nowhere"})
    page = client.get("/console/quant")
    assert page.status_code == 200
    assert "Imported markets" in page.text and "XLON" in page.text and "close only" in page.text
    assert "no order filled" in page.text and "no imported market" in page.text


def test_close_only_refuses_ohlcv_factors_and_internal_errors_are_recorded(
    sqlite_engine, clock, tmp_path, monkeypatch
) -> None:
    service = QuantService(sqlite_engine, clock, markets_dir=tmp_path / "m")
    london(dt.date(2003, 1, 1), dt.date(2006, 12, 31)).write_csv(tmp_path / "lse.csv")
    service.import_market(ADMIN, tmp_path / "lse.csv", market="lse", calendar="XLON")
    config = {
        "name": "lse topk",
        "market": "lse",
        "data": {"start": "2006-01-03", "end": "2006-12-29"},
        "strategy": {"name": "topk_dropout", "params": {"topk": 1, "n_drop": 1}},
        "signal": {
            "model": "linear",
            "factors": {"mom5": "ref(close, 5) / close", "range": "(high - low) / close"},
            "train": {"start": "2004-01-02", "end": "2005-12-20"},
        },
    }
    with pytest.raises(ValidationError, match=r"close-only, but 1 factors .* range") as err:
        service.run(ADMIN, config)
    assert err.value.field == "signal.factors"

    import finbridge.quant.runner as runner

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(runner, "run_config", broken)
    ma = {**config, "strategy": {"name": "ma_crossover", "params": {}}, "signal": None}
    with pytest.raises(RuntimeError):
        service.run(ADMIN, ma)
    errors = [r.error for r in service.list_runs(ADMIN)]
    assert "internal error: RuntimeError: disk on fire" in errors
    assert any(e and "close-only" in e for e in errors)


def test_demo_imports_one_market_once(settings, sqlite_engine, clock) -> None:
    from finbridge.cli.demo_quant import DEMO_MARKET, seed_imported_market
    from finbridge.platform import Platform

    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    said: list[str] = []
    first = seed_imported_market(platform, said.append)
    assert first is not None and first.startswith(f"{DEMO_MARKET}: 4 instruments")
    assert seed_imported_market(platform, said.append) is None and len(said) == 1
    (market,) = platform.quant.markets(ADMIN)
    assert market.calendar == "XNYS" and market.missing_sessions == []


def test_a_market_with_its_own_profile_file(sqlite_engine, clock, tmp_path) -> None:
    profile = tmp_path / "hk.yaml"
    profile.write_text(
        "name: hk\ncurrency: HKD\ncalendar: XHKG\nlot_size: 100\nt_plus: 0\n"
        "commission_buy: 0.0\ncommission_sell: 0.0\nmin_commission: 0\nprice_limits: none\n"
        "taxes:\n  - {name: stamp duty, side: buy, rate: 0.0013, from: 2021-08-01}\n"
        "  - {name: stamp duty, side: sell, rate: 0.0013, from: 2021-08-01}\n"
    )
    days = trading_days("XHKG", dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    prices = pl.DataFrame({"date": days, "0005.HK": [60.0 + 0.01 * k for k in range(len(days))]})
    prices.write_csv(tmp_path / "hk.csv")
    service = QuantService(sqlite_engine, clock, markets_dir=tmp_path / "m")
    with pytest.raises(ValidationError, match="not both"):
        service.import_market(ADMIN, tmp_path / "hk.csv", market="hk", calendar="XHKG",
                              profile="uk", profile_file=profile)  # fmt: skip
    info = service.import_market(
        ADMIN, tmp_path / "hk.csv", market="hk", calendar="XHKG", profile_file=profile
    )
    assert (info.profile, info.currency, info.profile_file) == ("hk", "HKD", True)
    kept = MarketStore(tmp_path / "m").profile(info)  # what the runner uses for this market
    assert kept.buy_tax_rate(dt.date(2023, 3, 1)) == kept.stamp_rate(dt.date(2023, 3, 1)) == 0.0013
    run = service.run(ADMIN, {
        "name": "hk hold", "market": "hk", "data": {"start": "2023-02-01", "end": "2023-06-30"},
        "strategy": {"name": "buy_and_hold", "params": {}},
    })  # fmt: skip
    assert run.currency == "HKD" and run.summary["fills"] == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(profile.read_text().replace("lot_size: 100", "lot_size: 0"))
    with pytest.raises(ValidationError, match="lot_size"):
        service.import_market(ADMIN, tmp_path / "hk.csv", market="hk2", calendar="XHKG",
                              profile_file=bad)  # fmt: skip
