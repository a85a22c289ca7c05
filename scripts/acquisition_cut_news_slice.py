"""Cut the shipped news slice for the acquisition engine (finance breakfast headlines).

Reads the read-only team dataset and keeps the headlines of 2020-10-01..2020-12-31, with their
date only (the price columns are not needed). Deterministic; re-run to rebuild.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

SOURCE = Path("/work/shared/datasets/news/cn_fin_news_headlines_choice_2016_2020.parquet")
TARGET = (
    Path(__file__).resolve().parents[1]
    / "src/finbridge/datasets/news/cn_fin_headlines_2020q4.parquet"
)


def main() -> None:
    frame = (
        pl.read_parquet(SOURCE)
        .select(
            pl.col("spy_date").cast(pl.Date).alias("date"), pl.col("headline").str.strip_chars()
        )
        .filter(pl.col("date") >= pl.date(2020, 10, 1), pl.col("headline").str.len_chars() > 0)
        .unique(maintain_order=True)
        .sort("date", maintain_order=True)
    )
    frame.write_parquet(TARGET, compression="zstd")
    print(f"{frame.height} headlines, {frame['date'].n_unique()} days -> {TARGET}")


if __name__ == "__main__":
    main()
