"""Cut the demo data slices shipped in ``src/finbridge/datasets/demo`` from the team datasets.

Deterministic: re-running it rebuilds byte-identical content. Usage:
    .venv/bin/python scripts/demo_cut_slices.py [--data-dir ../shared/datasets]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl

OUT = Path(__file__).resolve().parents[1] / "src" / "finbridge" / "datasets" / "demo"
# Card holders 0..999 of the simulator, first 21 days (2018-04-01..2018-04-21).
CARD_CUSTOMERS = 1000
CARD_DAYS = 21


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets"
    )
    args = parser.parse_args()
    # A few cells are written in scientific notation ("1.00E+05"): read as floats, then check
    # every value is a whole number before storing integers (NT$ amounts have no cents here).
    raw = pl.read_csv(args.data_dir / "credit" / "uci_taiwan_default.csv", infer_schema_length=None)
    floats = [c for c, t in raw.schema.items() if t == pl.Float64]
    for c in floats:
        assert (raw[c] == raw[c].round(0)).all(), c
    clients = raw.with_columns([pl.col(c).cast(pl.Int64) for c in floats])
    clients = clients.rename({"default.payment.next.month": "DEFAULT_NEXT_MONTH"}).sort("ID")
    clients.write_parquet(OUT / "uci_taiwan_clients.parquet", compression="zstd")
    tx = pl.read_parquet(args.data_dir / "fraud" / "fdh_simulated_transactions_183d.parquet")
    tx = (
        tx.filter((pl.col("CUSTOMER_ID") < CARD_CUSTOMERS) & (pl.col("TX_TIME_DAYS") < CARD_DAYS))
        .select(
            "TRANSACTION_ID",
            "TX_DATETIME",
            "CUSTOMER_ID",
            "TERMINAL_ID",
            "TX_AMOUNT",
            "TX_FRAUD",
            "TX_FRAUD_SCENARIO",
        )
        .sort("TRANSACTION_ID")
    )
    tx.write_parquet(OUT / "fdh_card_transactions_slice.parquet", compression="zstd")
    print(f"clients: {clients.height} rows; card transactions: {tx.height} rows")


if __name__ == "__main__":
    main()
