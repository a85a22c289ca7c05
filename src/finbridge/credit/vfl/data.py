"""Party datasets and the vertical split of one table into a bank side and a partner side."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from finbridge.core.errors import ValidationError
from finbridge.credit.data import binary_target


@dataclass
class PartyData:
    """What one party holds: its customers' join keys, its feature columns, maybe labels."""

    ids: list[str]
    features: pd.DataFrame
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.features):
            raise ValidationError("one id per feature row", field="ids")
        if len(set(self.ids)) != len(self.ids):
            raise ValidationError("ids must be unique", field="ids")
        if self.labels is not None and len(self.labels) != len(self.ids):
            raise ValidationError("one label per row", field="labels")

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, id_column: str, target: str | None = None
    ) -> PartyData:
        if id_column not in frame.columns:
            raise ValidationError(f"id column {id_column!r} not in the data", field="id_column")
        labels = None
        drop = [id_column]
        if target is not None:
            if target not in frame.columns:
                raise ValidationError(f"target column {target!r} not in the data", field="target")
            labels = binary_target(frame[target])
            drop.append(target)
        ids = frame[id_column].astype(str).tolist()
        return cls(ids, frame.drop(columns=drop).reset_index(drop=True), labels)


def phone_of(customer_id: int) -> str:
    """A deterministic, phone-shaped join key for a dataset row id (demo data has no phones)."""
    return f"13{customer_id % 10}{customer_id:08d}"


def vertical_split(
    frame: pd.DataFrame,
    *,
    id_column: str,
    target: str,
    bank_columns: tuple[str, ...],
    partner_columns: tuple[str, ...],
    overlap: float = 0.7,
    seed: int = 0,
) -> tuple[PartyData, PartyData]:
    """Bank gets labels + its columns, partner its columns; ``overlap`` of everyone is shared.

    Each side knows (1 + overlap) / 2 of the customers, so the intersection is ``overlap``.
    """
    if not 0 < overlap <= 1:
        raise ValidationError("overlap must be in (0, 1]", field="overlap")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(frame))
    each = round(len(frame) * (1 + overlap) / 2)
    bank_rows = np.sort(order[:each])
    partner_rows = np.sort(order[len(frame) - each :])
    keys = frame[id_column].map(lambda v: phone_of(int(v)))
    bank = PartyData(
        keys.iloc[bank_rows].tolist(),
        frame.iloc[bank_rows][list(bank_columns)].reset_index(drop=True),
        binary_target(frame[target].iloc[bank_rows]),
    )
    partner = PartyData(
        keys.iloc[partner_rows].tolist(),
        frame.iloc[partner_rows][list(partner_columns)].reset_index(drop=True),
    )
    return bank, partner


def is_holdout(join_key: str, share: float = 0.2, salt: str = "holdout") -> bool:
    """Stable held-out assignment by hashed key (the bank's choice, never sent)."""
    digest = hashlib.sha256(f"{salt}:{join_key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
