"""Cut the advisory fund universe shipped in ``finbridge/datasets/market`` from /work/shared/datasets.

Run once: ``.venv/bin/python scripts/advisory_cut_etf_slice.py [--data-dir DIR]``. Deterministic:
the same source file gives the same slice. Only the (split/dividend adjusted) daily closes are
kept, on the window where every chosen fund trades, so the 2008 crisis is inside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import polars as pl

OUT = (
    Path(__file__).resolve().parents[1]
    / "src"
    / "finbridge"
    / "datasets"
    / "market"
    / "us_etfs_advisory_2007_2017.parquet"
)
FUNDS = [
    "SHV", "SHY", "IEF", "AGG", "TIP", "LQD", "TLT", "HYG",
    "SPY", "QQQ", "IWM", "EFA", "EEM", "XLK", "XLE", "XLU", "XLV", "GLD", "SSO",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/datasets"))
    src = parser.parse_args().data_dir / "market" / "us_etfs_428_ohlcv_10y_plus_to_2017.parquet"
    raw = (
        pl.read_parquet(src, columns=["date", "ticker", "close"])
        .with_columns(pl.col("ticker").cast(pl.String), pl.col("date").cast(pl.Date))
        .filter(pl.col("ticker").is_in(FUNDS))
    )
    start: dt.date = raw.group_by("ticker").agg(pl.col("date").min())["date"].max()
    wide = (
        raw.filter(pl.col("date") >= start)
        .pivot(on="ticker", index="date", values="close")
        .sort("date")
        .select(["date", *FUNDS])
        .drop_nulls()  # days where one fund has no bar are dropped for all
        .with_columns(pl.col(f).cast(pl.Float64) for f in FUNDS)
    )
    wide.write_parquet(OUT, compression="zstd", statistics=False)
    print(f"{OUT.name}: {wide.height} days x {len(FUNDS)} funds, {start}..{wide['date'].max()}")


if __name__ == "__main__":
    main()
