"""The small real credit datasets shipped with finbridge (see datasets/credit/PROVENANCE.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import finbridge

DATA_DIR = Path(finbridge.__file__).parent / "datasets" / "credit"
TAIWAN_TARGET = "default.payment.next.month"
GERMAN_TARGET = "creditability"
TAIWAN_BANK_COLUMNS = (
    "LIMIT_BAL", "SEX", "EDUCATION", "MARRIAGE", "AGE",
    "PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6",
)  # fmt: skip
TAIWAN_PARTNER_COLUMNS = tuple(
    [f"BILL_AMT{i}" for i in range(1, 7)] + [f"PAY_AMT{i}" for i in range(1, 7)]
)


def taiwan(path: Path | None = None) -> pd.DataFrame:
    """Taiwan card default data: the 6k slice, or the full file at ``path``."""
    return pd.read_csv(path or DATA_DIR / "taiwan_default_6k.csv")


def german(path: Path | None = None) -> pd.DataFrame:
    return pd.read_csv(path or DATA_DIR / "german_credit.csv")
