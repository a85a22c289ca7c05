"""Bars reshaped into date x instrument arrays for the event-driven engine."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from finbridge.core.errors import NotFound, ValidationError
from finbridge.quant.data import trading_days, validate_bars

F64 = NDArray[np.float64]


@dataclass(frozen=True)
class MarketData:
    """Aligned arrays, rows = sessions, columns = instruments; NaN where there is no bar.

    A session is in ``dates`` if any instrument has a bar on it. ``tradable`` is False with no
    bar or zero volume (suspension); ``last_close`` carries the last known close forward, for
    valuation and for the previous-close reference of price limits.
    """

    dates: tuple[dt.date, ...]
    instruments: tuple[str, ...]
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    factor: F64
    tradable: NDArray[np.bool_]
    last_close: F64
    st: NDArray[np.bool_]
    benchmark: F64 | None = None
    signal: F64 | None = None

    @classmethod
    def from_bars(
        cls,
        bars: pl.DataFrame,
        *,
        benchmark: str | pl.DataFrame | None = None,
        signal: pl.DataFrame | None = None,
        st: Sequence[str] = (),
        calendar: str | None = None,
    ) -> MarketData:
        """``benchmark`` is an instrument in ``bars`` (kept out of the tradable set) or a frame
        of (date, close); ``signal`` a frame of (instrument, date, score); ``calendar`` (cn, us,
        XSHG, XSHE, XNYS) adds exchange sessions on which no instrument has a bar."""
        bars = validate_bars(bars) if "tradable" not in bars.columns else bars
        bench_close: F64 | None = None
        if isinstance(benchmark, str):
            if benchmark not in set(bars["instrument"].unique().to_list()):
                raise NotFound(f"benchmark {benchmark!r} not in the bars", field="benchmark")
            bench_frame: pl.DataFrame | None = bars.filter(
                pl.col("instrument") == benchmark
            ).select("date", "close")
            bars = bars.filter(pl.col("instrument") != benchmark)
        else:
            bench_frame = benchmark
        if bars.is_empty():
            raise ValidationError("no bars to trade", field="bars")
        dates_s = bars["date"].unique().sort()
        if calendar is not None:
            # Sessions of the exchange with no bar at all still exist: nothing trades on them.
            sessions = pl.Series(
                "date", trading_days(calendar, dates_s[0], dates_s[-1]), dtype=pl.Date
            )
            dates_s = pl.concat([dates_s, sessions]).unique().sort()
        instruments = tuple(bars["instrument"].unique().sort().to_list())
        index = pl.DataFrame({"date": dates_s})

        date_pos = {d: k for k, d in enumerate(dates_s.to_list())}
        inst_pos = {c: k for k, c in enumerate(instruments)}

        def matrix(frame: pl.DataFrame, column: str) -> F64:
            # A numpy scatter: Polars' pivot is ~100x slower on a million rows.
            keyed = frame.select(
                pl.col("date").replace_strict(date_pos, return_dtype=pl.Int64, default=-1),
                pl.col("instrument").replace_strict(inst_pos, return_dtype=pl.Int64, default=-1),
                pl.col(column).cast(pl.Float64),
            ).filter((pl.col("date") >= 0) & (pl.col("instrument") >= 0))
            out = np.full((len(date_pos), len(inst_pos)), np.nan)
            out[keyed["date"].to_numpy(), keyed["instrument"].to_numpy()] = keyed[column].to_numpy()
            return out

        mats = {c: matrix(bars, c) for c in ("open", "high", "low", "close", "volume", "factor")}
        # The bars' own flag (validate_bars: volume > 0; a close-only market: any bar present).
        flag = matrix(bars.with_columns(pl.col("tradable").cast(pl.Float64)), "tradable")
        tradable = np.isfinite(mats["close"]) & (np.nan_to_num(flag) > 0)
        last_close = pl.DataFrame(mats["close"]).select(pl.all().fill_nan(None).forward_fill())
        if bench_frame is not None:
            b = index.join(bench_frame.select("date", "close"), on="date", how="left")
            bench_close = b["close"].forward_fill().to_numpy().astype(np.float64)
        sig: F64 | None = None
        if signal is not None:
            sig = matrix(
                signal.rename({"score": "_score"}).select("instrument", "date", "_score"), "_score"
            )
        st_set = set(st)
        return cls(
            dates=tuple(dates_s.to_list()),
            instruments=instruments,
            open=mats["open"],
            high=mats["high"],
            low=mats["low"],
            close=mats["close"],
            volume=mats["volume"],
            factor=np.nan_to_num(mats["factor"], nan=1.0),
            tradable=tradable,
            last_close=last_close.to_numpy().astype(np.float64),
            st=np.array([s in st_set for s in instruments], dtype=bool),
            benchmark=bench_close,
            signal=sig,
        )

    def index_of(self, instrument: str) -> int:
        try:
            return self.instruments.index(instrument)
        except ValueError:
            raise NotFound(f"unknown instrument {instrument!r}", field="instrument") from None
