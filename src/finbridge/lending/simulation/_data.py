"""The demo's real data as arrays for the simulation (provenance: datasets/demo/PROVENANCE.md).

- Customers: the UCI Taiwan clients (``uci_taiwan_clients.parquet``): ``LIMIT_BAL`` (NT$) and the
  repayment-status columns.
- Spending: the Fraud Detection Handbook's simulated card payments of cardholders 0..999 over 21
  days (``fdh_card_transactions_slice.parquet``). Fraudulent payments are left out (they are not
  the customer's spending). Each cardholder gives its own daily payment rate and its own
  amounts. The simulator's amounts have no unit: they are read as the product currency's units
  (2 decimals, so integer minor units), as the demo reads them as NT$.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

import finbridge
from finbridge.lending.simulation._behaviour import F64, I64, PAY_COLUMNS

DEMO_DIR = Path(finbridge.__file__).parent / "datasets" / "demo"
CLIENTS_FILE = DEMO_DIR / "uci_taiwan_clients.parquet"
PAYMENTS_FILE = DEMO_DIR / "fdh_card_transactions_slice.parquet"


@dataclass(frozen=True, slots=True)
class Clients:
    ids: I64
    limit_twd: I64  # LIMIT_BAL, whole NT$
    status: I64  # customers x months, oldest first (PAY_COLUMNS)


@dataclass(frozen=True, slots=True)
class Spending:
    """Each cardholder's real payment amounts, back to back (``start[c]``, ``count[c]``)."""

    amounts_minor: I64
    start: I64
    count: I64
    daily_rate: F64  # payments per day over the slice's window

    @property
    def cardholders(self) -> int:
        return len(self.count)


def load_clients(path: Path = CLIENTS_FILE) -> Clients:
    frame = pl.read_parquet(path, columns=["ID", "LIMIT_BAL", *PAY_COLUMNS]).sort("ID")
    return Clients(
        frame["ID"].to_numpy().astype(np.int64),
        frame["LIMIT_BAL"].to_numpy().astype(np.int64),
        frame.select(PAY_COLUMNS).to_numpy().astype(np.int64),
    )


def load_spending(path: Path = PAYMENTS_FILE) -> Spending:
    frame = pl.read_parquet(path, columns=["TX_DATETIME", "CUSTOMER_ID", "TX_AMOUNT", "TX_FRAUD"])
    span = frame.select((pl.col("TX_DATETIME").max() - pl.col("TX_DATETIME").min()).dt.total_days())
    days = int(span.item()) + 1
    genuine = (
        frame.filter(pl.col("TX_FRAUD") == 0)
        .with_columns((pl.col("TX_AMOUNT") * 100).round(0).cast(pl.Int64).alias("minor"))
        .filter(pl.col("minor") > 0)
        .sort("CUSTOMER_ID", "TX_DATETIME")
    )
    per = genuine.group_by("CUSTOMER_ID", maintain_order=True).len()
    count = per["len"].to_numpy().astype(np.int64)
    start = np.concatenate([[0], np.cumsum(count)[:-1]]).astype(np.int64)
    return Spending(genuine["minor"].to_numpy().astype(np.int64), start, count, count / float(days))
