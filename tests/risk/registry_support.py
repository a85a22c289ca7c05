"""A real, tiny LightGBM fraud model (a few hundred synthetic rows) for registry tests."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from finbridge.risk.models import MODEL_FEATURES, FraudModel, register_model, registry_dir


def tiny_model(version: str = "tiny-v1", rows: int = 400, seed: int = 3) -> FraudModel:
    """Fraud is "amount above 300" with a little noise, so scores rise with the amount."""
    rng = np.random.default_rng(seed)
    data = {name: rng.random(rows) for name in MODEL_FEATURES}
    data["amount"] = rng.uniform(0, 600, rows)
    noise = rng.random(rows) < 0.05
    fraud = (data["amount"] > 300) ^ noise
    start = datetime(2026, 10, 1)  # naive, like the handbook
    frame = pl.DataFrame(
        {
            **data,
            "TX_FRAUD": fraud.astype(np.int64),
            "TX_DATETIME": [start + timedelta(minutes=i) for i in range(rows)],
        }
    )
    return FraudModel.fit(frame, rounds=5, version=version)


def register_tiny(data_dir: Path, version: str = "tiny-v1") -> FraudModel:
    model = tiny_model(version)
    register_model(registry_dir(data_dir), model)
    return model
