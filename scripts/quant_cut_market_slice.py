"""Cut the small market slice shipped in ``finbridge/datasets/market`` from /work/shared/datasets.

Run once: ``.venv/bin/python scripts/quant_cut_market_slice.py [--data-dir DIR]``. Deterministic:
the same source files give the same slice.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import polars as pl

OUT = Path(__file__).resolve().parents[1] / "src" / "finbridge" / "datasets" / "market"
START, END = dt.date(2015, 1, 1), dt.date(2020, 12, 31)
CHINEXT = ["SZ300003", "SZ300015", "SZ300059", "SZ300124"]
US_STOCKS = ["AAPL", "MSFT", "AMZN", "JPM", "XOM", "JNJ", "PG", "KO"]
US_ETFS = ["SPY", "QQQ", "TLT", "GLD"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/datasets"))
    src = parser.parse_args().data_dir / "market"
    membership = pl.read_csv(
        src / "cn_csi300_membership_2010_2026.tsv", separator="\t", try_parse_dates=True
    )
    overlap = (
        membership.with_columns(
            days=(
                pl.min_horizontal(pl.col("end"), pl.lit(END))
                - pl.max_horizontal(pl.col("start"), pl.lit(START))
            ).dt.total_days()
        )
        .filter(pl.col("days") > 0)
        .group_by("instrument")
        .agg(pl.col("days").sum())
    )
    full = overlap.filter(pl.col("days") >= 2191).sort("instrument")["instrument"].to_list()
    partial = (
        overlap.filter((pl.col("days") > 400) & (pl.col("days") < 1500))
        .sort("instrument")["instrument"]
        .to_list()
    )
    chosen = [s for s in full if not s.startswith("SZ300")][:22] + CHINEXT + partial[:4]
    chosen = [*sorted(set(chosen)), "SH000300"]
    bars = (
        pl.scan_parquet(src / "cn_csi300_ever_members_qlib_daily_2010_2026.parquet")
        .with_columns(pl.col("instrument").cast(pl.String), pl.col("date").cast(pl.Date))
        .filter(pl.col("instrument").is_in(chosen) & pl.col("date").is_between(START, END))
        .drop("change")
        .sort("instrument", "date")
        .collect()
    )
    OUT.mkdir(parents=True, exist_ok=True)
    bars.write_parquet(OUT / "cn_csi300_slice_2015_2020.parquet", compression="zstd")
    membership.filter(pl.col("instrument").is_in(chosen)).write_csv(
        OUT / "cn_csi300_membership_slice.tsv", separator="\t"
    )
    us = (
        pl.scan_parquet(src / "us_sp500_505_ohlcv_2013_2018.parquet")
        .with_columns(pl.col("ticker").cast(pl.String))
        .filter(pl.col("ticker").is_in(US_STOCKS))
        .collect()
    )
    etf = (
        pl.scan_parquet(src / "us_etfs_428_ohlcv_10y_plus_to_2017.parquet")
        .with_columns(pl.col("ticker").cast(pl.String))
        .filter(pl.col("ticker").is_in(US_ETFS) & (pl.col("date").dt.year() >= 2013))
        .collect()
    )
    us.write_parquet(OUT / "us_stocks_slice_2013_2018.parquet", compression="zstd")
    etf.write_parquet(OUT / "us_etfs_slice_2013_2017.parquet", compression="zstd")
    print(len(chosen), bars.height, us.height, etf.height)


if __name__ == "__main__":
    main()
