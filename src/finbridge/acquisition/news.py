"""Headlines for creatives: the shipped slice of Chinese finance headlines (see its PROVENANCE)."""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path

import finbridge

NEWS_FILE = (
    Path(finbridge.__file__).parent / "datasets" / "news" / "cn_fin_headlines_2020q4.parquet"
)


@cache
def _by_day() -> dict[date, tuple[str, ...]]:
    import polars as pl

    frame = pl.read_parquet(NEWS_FILE)
    out: dict[date, list[str]] = {}
    for day, text in frame.select("date", "headline").iter_rows():
        out.setdefault(day, []).append(" ".join(text.split()))
    return {d: tuple(v) for d, v in sorted(out.items())}


@cache
def headlines_for(day: date, limit: int = 3) -> tuple[date | None, tuple[str, ...]]:
    """That day's headlines, else the latest earlier day's (with the day they are from)."""
    days = [d for d in _by_day() if d <= day]
    if not days:
        return None, ()
    latest = days[-1]
    return latest, _by_day()[latest][:limit]
