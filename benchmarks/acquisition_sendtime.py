"""Send-time scoring for 1,000,000 customers from lake-shaped Parquet (issue 17: <= 5 minutes).

Synthetic engagement (the lake has no million customers): per customer a habit hour drawn from a
mixture of morning / lunch / evening peaks, 0..25 events over 90 days (mean ~10) of the three
kinds, each at the habit hour +- noise. Written once as a Parquet file with the lake's columns
(``subject_id`` string, ``event_type``, ``occurred_at`` UTC), then timed end to end:

1. DuckDB reads the three columns and converts the time to Shanghai local seconds;
2. Polars maps subject ids to dense indices;
3. :func:`finbridge.acquisition.sendtime.score_send_times` (NumPy, blocks of 100,000).

Also reports how often the chosen hour equals the planted habit hour (a sanity figure).

Run: ``.venv/bin/python benchmarks/acquisition_sendtime.py [--customers 1000000]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from finbridge.acquisition.sendtime import KIND_WEIGHTS, Engagement, score_send_times

AS_OF = 1_606_780_800  # 2020-12-01 00:00 UTC
OFFSET = 8 * 3600  # Asia/Shanghai, no daylight saving


def synthesise(n: int, path: Path, seed: int = 17) -> np.ndarray:
    rng = np.random.default_rng(seed)
    habit = rng.choice([7, 8, 12, 20, 21, 22], n, p=[0.25, 0.15, 0.15, 0.2, 0.15, 0.1])
    per = rng.integers(0, 26, n)
    cust = np.repeat(np.arange(n), per)
    m = len(cust)
    day = rng.integers(1, 91, m)
    noise_h = np.where(rng.random(m) < 0.7, 0, rng.integers(-3, 4, m))
    local_hour = (habit[cust] + noise_h) % 24
    local_ts = (
        AS_OF
        + OFFSET
        - day * 86_400
        - (AS_OF + OFFSET) % 86_400
        + local_hour * 3600
        + rng.integers(0, 3600, m)
    )
    kinds = np.array(list(KIND_WEIGHTS))
    frame = pl.DataFrame(
        {
            "subject_id": pl.Series(np.char.add("c", cust.astype(str))),
            "event_type": kinds[rng.integers(0, 3, m)],
            "occurred_at": pl.Series((local_ts - OFFSET) * 1_000_000).cast(
                pl.Datetime("us", "UTC")
            ),
        }
    )
    frame.write_parquet(path, compression="zstd")
    return np.asarray(habit)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.parquet"
        t0 = time.perf_counter()
        habit = synthesise(args.customers, path)
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        print(f"synthesised {rows:,} events in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        con = duckdb.connect(config={"threads": 2})
        sql = "SELECT subject_id, event_type, epoch(occurred_at)::BIGINT + ? AS local_ts"
        table = con.sql(f"{sql} FROM read_parquet(?)", params=[OFFSET, str(path)]).to_arrow_table()
        t_read = time.perf_counter() - t0
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        t1 = time.perf_counter()
        subjects = frame["subject_id"].unique(maintain_order=True)
        index = frame["subject_id"].replace_strict(
            subjects, pl.int_range(len(subjects), eager=True)
        )
        weight = frame["event_type"].replace_strict(KIND_WEIGHTS, return_dtype=pl.Float64)
        events = Engagement(index.to_numpy(), frame["local_ts"].to_numpy(), weight.to_numpy())
        t_map = time.perf_counter() - t1
        t2 = time.perf_counter()
        # Customers without events get indices after the active ones: the population prior.
        result = score_send_times(events, args.customers, AS_OF + OFFSET)
        t_score = time.perf_counter() - t2
        total = time.perf_counter() - t0
        # subjects are "c<k>": compare with the planted habit of customer k
        planted = habit[np.array([int(s[1:]) for s in subjects.to_list()])]
        hit = float(np.mean(result.best_slot[: len(subjects)] % 24 == planted))
        print(f"scored {args.customers:,} customers, {len(subjects):,} with events")
        print(f"read {t_read:.1f} s, map {t_map:.1f} s, score {t_score:.1f} s, total {total:.1f} s")
        print(f"best hour == planted habit hour for {hit:.1%}")


if __name__ == "__main__":
    main()
