"""Cut the shipped marketing slices (tests and the demo; benchmarks read the full files).

bank-full: 6,000 rows, hillstrom: 12,000 rows, each a seeded random sample of the whole file,
all columns kept. Deterministic; re-run to rebuild.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

SHARED = Path("/work/shared/datasets/marketing")
OUT = Path(__file__).resolve().parents[1] / "src/finbridge/datasets/marketing"
CUTS = {
    "uci_bank_full_45k.parquet": ("uci_bank_full_sample_6k.parquet", 6_000),
    "hillstrom_email_64k.parquet": ("hillstrom_email_sample_12k.parquet", 12_000),
}


def main() -> None:
    for source, (target, rows) in CUTS.items():
        frame = pl.read_parquet(SHARED / source).sample(rows, seed=17, shuffle=True)
        frame.write_parquet(OUT / target, compression="zstd")
        print(f"{source} -> {target}: {frame.height} rows")


if __name__ == "__main__":
    main()
