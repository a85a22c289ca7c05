"""Import a user's own daily prices into the bar store, checked against an exchange calendar.

A file is long (one row per instrument and day: ``date``, ``instrument``/``ticker``/``symbol``,
``close`` and optionally ``open/high/low/volume/factor``) or wide (``date`` and one column of
closes per instrument). Without open/high/low the market is stored *close-only*: open, high and
low are the close, volume is unknown (bars still tradable), and every run on it says so.

The data's days are compared with the named calendar (any code exchange_calendars knows, built
with explicit bounds): sessions the calendar has but no instrument has a price for are listed,
and above ``max_missing`` (a share of the sessions) the import is refused; days with prices that
the calendar says were closed are refused the same way. Nothing is ever filled in.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

from finbridge.core.errors import NotFound, ValidationError
from finbridge.core.textfiles import read_text_file
from finbridge.quant.backtest.rules import MarketProfile, load_profile, profile_named
from finbridge.quant.data import BAR_COLUMNS, BarStore, calendar_code, trading_days, validate_bars

Layout = Literal["auto", "long", "wide"]
BUILT_IN = frozenset({"cn", "us"})
DATE_NAMES = ("date", "datetime", "day", "timestamp", "trade_date", "time")
SYMBOL_NAMES = ("instrument", "ticker", "symbol", "code", "secid", "isin")
CLOSE_NAMES = ("close", "adj_close", "adj close", "adjclose", "price", "last")
OPTIONAL = ("open", "high", "low", "volume", "factor")
PRICES = ("open", "high", "low", "close")
SHOWN = 10  # missing days listed in a message; the report keeps them all


@dataclass(frozen=True)
class MarketInfo:
    """What the store knows of an imported market (kept beside its bars as JSON)."""

    name: str
    calendar: str
    profile: str
    currency: str
    close_only: bool
    source: str
    layout: str
    rows: int
    instruments: int
    first: str
    last: str
    sessions: int
    missing_sessions: list[str] = field(default_factory=list)
    off_calendar_days: list[str] = field(default_factory=list)
    instrument_gaps: int = 0
    profile_file: bool = False  # the profile is the user's own file, kept beside the bars

    def notes(self) -> list[str]:
        """What a run on this market must say about its data."""
        out = [
            f"market {self.name}: {self.instruments} instruments imported from {self.source} "
            f"({self.first} to {self.last}), calendar {self.calendar}, profile {self.profile}"
        ]
        if self.close_only:
            out.append(
                "close-only data: open, high and low are the close and volume is unknown, so "
                "orders fill at the next session's close and no volume cap applies"
            )
        if self.missing_sessions:
            out.append(
                f"{len(self.missing_sessions)} {self.calendar} sessions have no prices at all "
                f"(first: {', '.join(self.missing_sessions[:3])}); nothing trades on them"
            )
        return out


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.lower().strip(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _read(path: Path, encoding: str | None = None) -> pl.DataFrame:
    if not path.is_file():
        raise ValidationError(f"no file at {path}", field="file")
    if path.stat().st_size == 0:
        raise ValidationError(f"{path.name} is empty", field="file")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pl.read_parquet(path)
        elif suffix in (".csv", ".txt", ".tsv"):
            sep = "\t" if suffix == ".tsv" else ","
            text, _ = read_text_file(path, encoding)  # exports are often not UTF-8
            frame = pl.read_csv(
                text.encode(), separator=sep, try_parse_dates=True, infer_schema_length=5000
            )
        else:
            raise ValidationError(
                f"{path.name}: unknown file type {suffix!r}; use .csv or .parquet", field="file"
            )
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValidationError(f"cannot read {path.name}: {first}", field="file") from None
    if frame.is_empty():
        raise ValidationError(f"{path.name} has no rows", field="file")
    return frame


def _dates(frame: pl.DataFrame, col: str) -> pl.Series:
    s = frame[col]
    if s.dtype == pl.Datetime:
        return s.dt.date()
    if s.dtype == pl.Date:
        return s
    parsed = s.cast(pl.String).str.to_date(strict=False)
    bad = parsed.is_null() & s.is_not_null()
    if bad.any() or s.is_null().any():
        first = s.filter(bad).head(1).to_list() or [None]
        raise ValidationError(
            f"column {col!r} holds values that are not dates (first: {first[0]!r}); use YYYY-MM-DD",
            field=col,
        )
    return parsed


def to_bars(
    frame: pl.DataFrame, layout: Layout = "auto", *, instrument: str = "ASSET"
) -> tuple[pl.DataFrame, str, bool]:
    """Long bars (BAR_COLUMNS) from a long or wide price table; returns (bars, layout, close_only).

    A file with price columns (close, open...) but no instrument column is one instrument's
    history, named ``instrument`` (never read as a wide table of instruments called Open,
    High, Low...). Wide cells without a price (an instrument not yet listed) are not bars.
    """
    columns = frame.columns
    date_col = _find(columns, DATE_NAMES)
    if date_col is None:
        raise ValidationError(
            f"no date column (one of {list(DATE_NAMES)}); columns: {columns[:10]}", field="date"
        )
    symbol = _find(columns, SYMBOL_NAMES)
    close = _find(columns, CLOSE_NAMES)
    if symbol is None and close is not None and layout != "wide":
        frame = frame.with_columns(pl.lit(instrument).alias("instrument"))
        symbol, layout, columns = "instrument", "long", frame.columns
    if layout == "auto":
        layout = "long" if symbol is not None else "wide"
    dates = _dates(frame, date_col)
    if layout == "long":
        if symbol is None or close is None:
            missing = "an instrument column" if symbol is None else "a close column"
            names = list(SYMBOL_NAMES if symbol is None else CLOSE_NAMES)
            raise ValidationError(
                f"a long file needs {missing} (one of {names}); columns: {columns[:10]}",
                field="instrument" if symbol is None else "close",
            )
        found = {name: _find(columns, (name,)) for name in OPTIONAL}

        def col(name: str, default: pl.Expr) -> pl.Expr:
            source = found.get(name)
            return default if source is None else pl.col(source)

        close_only = not all(found[c] for c in ("open", "high", "low"))
        closes = pl.col(close)
        out = frame.select(
            pl.col(symbol).cast(pl.String).alias("instrument"),
            dates.alias("date"),
            *[_number(closes if close_only else col(c, closes), c) for c in PRICES[:3]],
            _number(closes, "close"),
            _number(col("volume", pl.lit(None)), "volume"),
            _number(col("factor", pl.lit(1.0)), "factor"),
        )
    else:
        values = [c for c in columns if c != date_col]
        if not values:
            raise ValidationError("a wide file needs one price column per instrument", field="file")
        not_numeric = [
            c for c in values if not (frame[c].dtype.is_numeric() or frame[c].dtype == pl.Null)
        ]
        if not_numeric:
            raise ValidationError(
                f"wide price columns must be numbers; not numeric: {not_numeric[:5]} (a long "
                "file needs an instrument column)",
                field=not_numeric[0],
            )
        close_only = True
        out = (
            frame.with_columns(dates.alias("__date"))
            .unpivot(index="__date", on=values, variable_name="instrument", value_name="close")
            .filter(pl.col("close").is_not_null())
            .select(
                pl.col("instrument"), pl.col("__date").alias("date"),
                *[pl.col("close").cast(pl.Float64).alias(c) for c in PRICES],
                pl.lit(None, pl.Float64).alias("volume"), pl.lit(1.0).alias("factor"),
            )
        )  # fmt: skip
    if out.is_empty():
        raise ValidationError("the file holds no prices", field="file")
    return out.select(BAR_COLUMNS), layout, close_only


def _number(expr: pl.Expr, name: str) -> pl.Expr:
    return expr.cast(pl.Float64, strict=False).alias(name)


@dataclass(frozen=True)
class CalendarCheck:
    sessions: int
    missing: list[dt.date]
    off_calendar: list[dt.date]

    def share_missing(self) -> float:
        return len(self.missing) / max(self.sessions, 1)


def check_calendar(bars: pl.DataFrame, calendar: str) -> CalendarCheck:
    """Sessions with no price at all, and priced days the calendar says were closed."""
    days = set(bars["date"].unique().to_list())
    first, last = min(days), max(days)
    sessions = trading_days(calendar, first, last)
    known = set(sessions)
    return CalendarCheck(
        sessions=len(sessions),
        missing=sorted(known - days),
        off_calendar=sorted(days - known),
    )


def _refuse(check: CalendarCheck, calendar: str, max_missing: float) -> None:
    share = check.share_missing()
    off = len(check.off_calendar) / max(check.sessions, 1)
    problems = []
    if share > max_missing:
        shown = ", ".join(d.isoformat() for d in check.missing[:SHOWN])
        problems.append(
            f"{len(check.missing)} of {check.sessions} {calendar} sessions ({share:.1%}) have "
            f"no prices (first: {shown})"
        )
    if off > max_missing:
        shown = ", ".join(d.isoformat() for d in check.off_calendar[:SHOWN])
        problems.append(
            f"{len(check.off_calendar)} days have prices but {calendar} was closed (first: {shown})"
        )
    if problems:
        raise ValidationError(
            "; ".join(problems) + f". Is {calendar} the right calendar for this data? "
            f"(allowed: {max_missing:.1%} of sessions; raise it with --max-missing)",
            field="calendar",
        )


class MarketStore:
    """Imported markets: bars in the :class:`BarStore` and their :class:`MarketInfo` beside."""

    def __init__(self, root: Path) -> None:
        self.bars = BarStore(root)
        self.root = root

    def _info_path(self, name: str) -> Path:
        return self.bars.path(name).with_suffix(".json")

    def _profile_path(self, name: str) -> Path:
        return self.bars.path(name).with_suffix(".profile.yaml")

    def profile(self, info: MarketInfo) -> MarketProfile:
        """The market's profile: its own file when imported with one, else the shipped one."""
        if info.profile_file:
            return load_profile(self._profile_path(info.name))
        return profile_named(info.profile)

    def info(self, name: str) -> MarketInfo:
        path = self._info_path(name)
        if not path.exists():
            raise NotFound(
                f"no imported market {name!r}; import it with `finbridge quant data import`",
                field="market",
            )
        return MarketInfo(**json.loads(path.read_text(encoding="utf-8")))

    def markets(self) -> list[MarketInfo]:
        if not self.root.is_dir():
            return []
        return [self.info(p.stem) for p in sorted(self.root.glob("*.json"))]

    def load(
        self, name: str, instruments: list[str] | None, start: dt.date, end: dt.date
    ) -> pl.DataFrame:
        """Bars of an imported market in [start, end] with ``tradable`` set."""
        info = self.info(name)
        lazy = self.bars.scan(name).filter(pl.col("date").is_between(start, end))
        if instruments is not None:
            known = set(self.bars.scan(name).select("instrument").unique().collect()["instrument"])
            unknown = [i for i in instruments if i not in known]
            if unknown:
                raise NotFound(f"unknown instruments: {', '.join(unknown)}", field="instruments")
            lazy = lazy.filter(pl.col("instrument").is_in(instruments))
        bars = validate_bars(lazy.collect())
        if info.close_only:
            # No volume in the file: a bar present is a session traded, not a suspension.
            bars = bars.with_columns(tradable=pl.lit(True))
        return bars

    def import_file(
        self,
        path: Path,
        *,
        market: str,
        calendar: str,
        profile: str | None = None,
        layout: Layout = "auto",
        max_missing: float = 0.01,
        instrument: str | None = None,
        profile_file: Path | None = None,
        encoding: str | None = None,
    ) -> MarketInfo:
        """Read, check against ``calendar`` and store; nothing is written when a check fails.

        ``instrument`` names the one instrument of a file without an instrument column
        (default: the file name); ``profile_file`` is the market's own profile (the YAML of
        the shipped ones: currency, lots, commissions, dated taxes), validated and kept."""
        if market in BUILT_IN or not market.isidentifier() or market != market.lower():
            raise ValidationError(
                f"market name {market!r} must be a new lower-case identifier (not cn or us)",
                field="market",
            )
        if not 0 <= max_missing <= 0.5:
            raise ValidationError("max_missing must be between 0 and 0.5", field="max_missing")
        code = calendar_code(calendar)
        if profile_file is not None and profile is not None:
            raise ValidationError("give --profile or --profile-file, not both", field="profile")
        chosen: MarketProfile = (
            load_profile(profile_file)
            if profile_file is not None
            else profile_named(profile or _profile_for(code))
        )
        name = (instrument or path.stem).upper()
        bars, used_layout, close_only = to_bars(_read(path, encoding), layout, instrument=name)
        bars = validate_bars(bars)  # non-positive prices and duplicate days refused here
        check = check_calendar(bars, code)
        _refuse(check, code, max_missing)
        gaps = _instrument_gaps(bars, code)
        info = MarketInfo(
            name=market, calendar=code, profile=chosen.name, currency=chosen.currency,
            close_only=close_only, source=path.name, layout=used_layout, rows=bars.height,
            instruments=bars["instrument"].n_unique(),
            first=bars["date"].min().isoformat(), last=bars["date"].max().isoformat(),  # type: ignore[union-attr]
            sessions=check.sessions, missing_sessions=[d.isoformat() for d in check.missing],
            off_calendar_days=[d.isoformat() for d in check.off_calendar], instrument_gaps=gaps,
            profile_file=profile_file is not None,
        )  # fmt: skip
        if profile_file is not None:
            self.root.mkdir(parents=True, exist_ok=True)
            self._profile_path(market).write_bytes(Path(profile_file).read_bytes())
        self.bars.write(market, bars.drop("tradable"))
        self._info_path(market).write_text(json.dumps(asdict(info)), encoding="utf-8")
        return info


def _profile_for(code: str) -> str:
    by_calendar = {"XSHG": "cn", "XSHE": "cn", "XNYS": "us", "XLON": "uk"}
    if code not in by_calendar:
        raise ValidationError(
            f"no shipped market profile for {code}; name one with --profile (cn, us, uk)",
            field="profile",
        )
    return by_calendar[code]


def _instrument_gaps(bars: pl.DataFrame, code: str) -> int:
    """Sessions inside each instrument's own first..last day without its bar (suspensions)."""
    from finbridge.quant.data import calendar_gaps

    return calendar_gaps(bars.select("instrument", "date"), code).height
