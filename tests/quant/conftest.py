"""Small hand-made bar frames for rule tests (real-data tests use the bundled slice)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl


def make_bars(
    closes: dict[str, Sequence[float | None]],
    *,
    start: dt.date = dt.date(2024, 1, 2),
    opens: dict[str, Sequence[float]] | None = None,
    volumes: dict[str, Sequence[float]] | None = None,
) -> pl.DataFrame:
    """One row per (instrument, day) on consecutive weekdays; a ``None`` close means no bar."""
    n = max(len(v) for v in closes.values())
    days: list[dt.date] = []
    day = start
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day += dt.timedelta(days=1)
    rows = []
    for name, series in closes.items():
        for k, close in enumerate(series):
            if close is None:
                continue
            o = opens[name][k] if opens and name in opens else close
            v = volumes[name][k] if volumes and name in volumes else 1_000_000.0
            rows.append((name, days[k], o, max(o, close), min(o, close), close, v, 1.0))
    return pl.DataFrame(
        rows,
        schema={
            "instrument": pl.String,
            "date": pl.Date,
            "open": pl.Float64,
            "high": pl.Float64,
            "low": pl.Float64,
            "close": pl.Float64,
            "volume": pl.Float64,
            "factor": pl.Float64,
        },
        orient="row",
    )
