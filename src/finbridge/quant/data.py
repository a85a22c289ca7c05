"""Daily bars, exchange calendars and point-in-time universes.

Bars are one Polars frame in long form with the columns of :data:`BAR_COLUMNS`: ``instrument``
(str), ``date`` (Date), adjusted ``open/high/low/close/volume`` (Float64) and the adjustment
``factor`` (raw price = adjusted price / factor; 1.0 where the source is already raw). They are
stored as Parquet and can be queried lazily with Polars or with SQL through DuckDB.

Bad input, documented handling:
- an unknown instrument asked of a loader raises :class:`NotFound` naming it;
- a non-positive or missing price raises :class:`ValidationError` (``on_bad="raise"``, default) or
  drops the bar (``on_bad="drop"``) so the day counts as a suspension;
- a zero-volume bar is kept but is not tradable (``tradable`` is False): the engines treat it
  like a missing bar (suspension, no trade);
- a session with no bar (a gap) is a suspension; :func:`calendar_gaps` lists them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import polars as pl

from finbridge.core.errors import NotFound, ValidationError

BAR_COLUMNS = ("instrument", "date", "open", "high", "low", "close", "volume", "factor")
PRICE_COLUMNS = ("open", "high", "low", "close")
CSI300_INDEX = "SH000300"
SURVIVORSHIP_NOTE = (
    "CSI 300 data holds 752 of the 790 ever-members: 38 delisted names are absent, so results "
    "carry survivorship bias."
)
OnBad = Literal["raise", "drop"]

_BUNDLED = Path(__file__).resolve().parents[1] / "datasets" / "market"
_SHARED_FILES = {
    "cn": "cn_csi300_ever_members_qlib_daily_2010_2026.parquet",
    "cn_membership": "cn_csi300_membership_2010_2026.tsv",
    "us_stocks": "us_sp500_505_ohlcv_2013_2018.parquet",
    "us_etfs": "us_etfs_428_ohlcv_10y_plus_to_2017.parquet",
}
_BUNDLED_FILES = {
    "cn": "cn_csi300_slice_2015_2020.parquet",
    "cn_membership": "cn_csi300_membership_slice.tsv",
    "us_stocks": "us_stocks_slice_2013_2018.parquet",
    "us_etfs": "us_etfs_slice_2013_2017.parquet",
}


def bundled_dir() -> Path:
    """The folder of the small real slice shipped with the package."""
    return _BUNDLED


def _source(kind: str, data_dir: Path | None) -> Path:
    if data_dir is None:
        return _BUNDLED / _BUNDLED_FILES[kind]
    path = Path(data_dir)
    if (path / "market").is_dir():
        path = path / "market"
    full = path / _SHARED_FILES[kind]
    return full if full.exists() else path / _BUNDLED_FILES[kind]


def _normalise(frame: pl.LazyFrame, *, symbol_col: str, has_factor: bool) -> pl.LazyFrame:
    exprs = [
        pl.col(symbol_col).cast(pl.String).alias("instrument"),
        pl.col("date").cast(pl.Date),
        *[pl.col(c).cast(pl.Float64) for c in (*PRICE_COLUMNS, "volume")],
        (pl.col("factor") if has_factor else pl.lit(1.0)).cast(pl.Float64).alias("factor"),
    ]
    return frame.select(exprs)


def validate_bars(bars: pl.DataFrame, *, on_bad: OnBad = "raise") -> pl.DataFrame:
    """Check columns and prices; add ``tradable`` (False on zero volume); sort.

    Non-positive or missing prices raise, or are dropped with ``on_bad="drop"``.
    """
    missing = [c for c in BAR_COLUMNS if c not in bars.columns]
    if missing:
        raise ValidationError(f"bars lack columns {missing}", field="bars")
    bad = pl.any_horizontal([pl.col(c).is_null() | (pl.col(c) <= 0) for c in PRICE_COLUMNS])
    n_bad = bars.filter(bad).height
    if n_bad and on_bad == "raise":
        first = bars.filter(bad).row(0, named=True)
        raise ValidationError(
            f"{n_bad} bars have a zero, negative or missing price "
            f"(first: {first['instrument']} on {first['date']}); pass on_bad='drop' to treat "
            "them as suspensions",
            field="bars",
        )
    if n_bad:
        bars = bars.filter(~bad)
    if bars.select(pl.struct("instrument", "date").is_duplicated().any()).item():
        raise ValidationError("duplicate (instrument, date) bars", field="bars")
    return (
        bars.with_columns(
            pl.col("volume").fill_null(0.0),
            tradable=pl.col("volume").fill_null(0.0) > 0,
        )
        .select([*BAR_COLUMNS, "tradable"])
        .sort("instrument", "date")
    )


def _select(
    lazy: pl.LazyFrame,
    instruments: Sequence[str] | None,
    start: dt.date | None,
    end: dt.date | None,
    *,
    on_bad: OnBad,
) -> pl.DataFrame:
    if instruments is not None:
        wanted = list(dict.fromkeys(instruments))
        known = set(lazy.select(pl.col("instrument").unique()).collect()["instrument"].to_list())
        unknown = [s for s in wanted if s not in known]
        if unknown:
            raise NotFound(f"unknown instruments: {', '.join(unknown)}", field="instruments")
        lazy = lazy.filter(pl.col("instrument").is_in(wanted))
    if start is not None:
        lazy = lazy.filter(pl.col("date") >= start)
    if end is not None:
        lazy = lazy.filter(pl.col("date") <= end)
    return validate_bars(lazy.collect(), on_bad=on_bad)


def load_cn_bars(
    instruments: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    data_dir: Path | None = None,
    on_bad: OnBad = "raise",
) -> pl.DataFrame:
    """CSI 300 ever-members + the index (SH000300); bundled slice unless ``data_dir`` is given."""
    lazy = _normalise(
        pl.scan_parquet(_source("cn", data_dir)), symbol_col="instrument", has_factor=True
    )
    return _select(lazy, instruments, start, end, on_bad=on_bad)


def load_us_bars(
    instruments: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    kind: Literal["stocks", "etfs"] = "stocks",
    data_dir: Path | None = None,
    on_bad: OnBad = "raise",
) -> pl.DataFrame:
    """US stocks (S&P 500 names 2013-2018) or ETFs; factor is 1.0 (prices as published)."""
    source = _source("us_stocks" if kind == "stocks" else "us_etfs", data_dir)
    lazy = _normalise(pl.scan_parquet(source), symbol_col="ticker", has_factor=False)
    return _select(lazy, instruments, start, end, on_bad=on_bad)


# --- storage and SQL -----------------------------------------------------------------------


@dataclass(frozen=True)
class BarStore:
    """Bars on disk as one Parquet file per market, read lazily with Polars or SQL via DuckDB."""

    root: Path

    def path(self, market: str) -> Path:
        if not market.isidentifier():
            raise ValidationError("market must be an identifier", field="market")
        return self.root / f"{market}.parquet"

    def write(self, market: str, bars: pl.DataFrame) -> Path:
        bars = validate_bars(bars)
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.path(market)
        bars.select(BAR_COLUMNS).write_parquet(path, compression="zstd", statistics=True)
        return path

    def scan(self, market: str) -> pl.LazyFrame:
        path = self.path(market)
        if not path.exists():
            raise NotFound(f"no bars stored for market {market!r}", field="market")
        return pl.scan_parquet(path)

    def sql(self, query: str) -> pl.DataFrame:
        """Run DuckDB SQL where every stored market is a view of its name."""
        import duckdb

        con = duckdb.connect()
        try:
            for file in sorted(self.root.glob("*.parquet")):
                # Market names are identifiers (checked in ``path``); the file path is quoted.
                escaped = str(file).replace("'", "''")
                ddl = f"CREATE VIEW {file.stem} AS SELECT * FROM read_parquet('{escaped}')"  # noqa: S608
                con.execute(ddl)
            return con.sql(query).pl()
        finally:
            con.close()


# --- calendars and universes ----------------------------------------------------------------

_CALENDAR_OF_MARKET = {"cn": "XSHG", "xshg": "XSHG", "xshe": "XSHE", "us": "XNYS", "xnys": "XNYS"}
_PAD = dt.timedelta(days=10)  # so the asked range's ends are always inside the calendar


def calendar_code(name: str) -> str:
    """The exchange_calendars code for a market name (cn, us) or any calendar code or alias
    the library knows (XLON, LSE, XTKS...); an unknown one is an error naming the field."""
    import exchange_calendars as xcals
    from exchange_calendars.errors import InvalidCalendarName

    code = _CALENDAR_OF_MARKET.get(name.lower(), name.upper())
    if code == "XSHE":
        return code
    try:
        code = xcals.resolve_alias(code)
    except InvalidCalendarName:
        raise ValidationError(
            f"unknown exchange calendar {name!r} (exchange_calendars codes such as XLON, XNYS, "
            "XSHG, XTKS, XHKG)",
            field="calendar",
        ) from None
    return str(code)


def _calendar_class(code: str) -> type:
    # Shenzhen trades on Shanghai's calendar (exchange_calendars ships only XSHG).
    from exchange_calendars import calendar_utils

    cls = getattr(calendar_utils, f"{'XSHG' if code == 'XSHE' else code}ExchangeCalendar", None)
    if cls is None:
        raise ValidationError(f"calendar {code} cannot be built with explicit bounds",
                              field="calendar")  # fmt: skip
    return cls  # type: ignore[no-any-return]


@lru_cache(maxsize=8)
def _calendar(code: str, start: str, end: str) -> tuple[dt.date, ...]:
    """Sessions in [start, end] from a calendar built for that range only.

    Always with explicit bounds: by default exchange_calendars builds [today - 20 years,
    today + 1 year] from the wall clock, so the answer (or an error past the holidays it
    records) would depend on the day the code runs. A range past what the calendar records is
    clipped to it, as the sessions there are unknown.
    """
    cls = _calendar_class(code)
    lo, hi = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    bound_min, bound_max = cls.bound_min(), cls.bound_max()  # type: ignore[attr-defined]
    first = max(lo - _PAD, bound_min.date()) if bound_min is not None else lo - _PAD
    last = min(hi + _PAD, bound_max.date()) if bound_max is not None else hi + _PAD
    if first > last:
        return ()
    cal = cls(start=first.isoformat(), end=last.isoformat())
    lo = max(lo, cal.first_session.date())
    hi = min(hi, cal.last_session.date())
    if lo > hi:
        return ()
    return tuple(ts.date() for ts in cal.sessions_in_range(lo.isoformat(), hi.isoformat()))


def trading_days(market: str, start: dt.date, end: dt.date) -> list[dt.date]:
    """Exchange sessions in [start, end]: XSHG's calendar for cn/XSHE, XNYS for us, or any
    calendar code exchange_calendars knows (always built with explicit bounds)."""
    try:
        code = calendar_code(market)
    except ValidationError:
        raise ValidationError(f"unknown market calendar {market!r}", field="market") from None
    return list(_calendar(code, start.isoformat(), end.isoformat()))


def calendar_gaps(bars: pl.DataFrame, market: str) -> pl.DataFrame:
    """Sessions inside each instrument's first..last bar that have no bar (suspensions)."""
    if bars.is_empty():
        return pl.DataFrame(schema={"instrument": pl.String, "date": pl.Date})
    sessions = pl.DataFrame(
        {"date": trading_days(market, bars["date"].min(), bars["date"].max())}  # type: ignore[arg-type]
    )
    spans = bars.group_by("instrument").agg(
        pl.col("date").min().alias("first"), pl.col("date").max().alias("last")
    )
    expected = spans.join(sessions, how="cross").filter(
        pl.col("date").is_between(pl.col("first"), pl.col("last"))
    )
    return (
        expected.join(bars.select("instrument", "date"), on=["instrument", "date"], how="anti")
        .select("instrument", "date")
        .sort("instrument", "date")
    )


@dataclass(frozen=True)
class Membership:
    """Point-in-time index membership: (instrument, start, end) intervals, both ends inclusive."""

    intervals: pl.DataFrame

    @classmethod
    def csi300(cls, data_dir: Path | None = None) -> Membership:
        frame = pl.read_csv(
            _source("cn_membership", data_dir), separator="\t", try_parse_dates=True
        )
        return cls(frame.select("instrument", pl.col("start", "end").cast(pl.Date)))

    def members_on(self, day: dt.date) -> list[str]:
        hit = self.intervals.filter((pl.col("start") <= day) & (pl.col("end") >= day))
        return sorted(hit["instrument"].unique().to_list())

    def mask(self, frame: pl.DataFrame) -> pl.Series:
        """Boolean per row of ``frame`` (instrument, date): was it a member on that date."""
        keyed = frame.select("instrument", "date").with_row_index("_row")
        hits = (
            keyed.join(self.intervals, on="instrument", how="inner")
            .filter(pl.col("date").is_between(pl.col("start"), pl.col("end")))
            .select("_row")
            .unique()
        )
        flag = keyed.join(hits.with_columns(_in=pl.lit(True)), on="_row", how="left").sort("_row")
        return flag["_in"].fill_null(False).alias("in_universe")

    def restrict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Rows of ``frame`` whose instrument was a member on that row's date."""
        return frame.filter(self.mask(frame))

    def instruments(self) -> Iterable[str]:
        return self.intervals["instrument"].unique().sort().to_list()


def wide(bars: pl.DataFrame, column: str) -> pl.DataFrame:
    """Date x instrument matrix of one column (dates sorted, instruments sorted)."""
    return bars.pivot(on="instrument", index="date", values=column, sort_columns=True).sort("date")
