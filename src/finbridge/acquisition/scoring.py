"""Our customers as the stored models' inputs (next-best-offer's person-level scores).

The models learnt on other people: bank-full (a bank's phone campaigns) and Hillstrom (a
retailer's e-mails). Only what we know of our own customers in the same sense is filled in; the
rest stays unknown, which LightGBM routes along each split's learnt missing-value branch and the
uplift learners take as the experiment's median (``LoadedModels.person_factor``):

- response (bank-full): the contact history of our own campaigns (``campaign`` = messages of the
  last 30 days plus this one, ``previous`` = older ones, ``pdays`` = days since the last, -1
  never, ``poutcome`` = success after a conversion, failure after messages without one,
  unknown before any), ``contact`` = cellular (an app message), ``day`` and ``month`` of the
  customer's local date. Age, job, marital status, education, loans and balance are unknown
  (identity's and banking's values are not in bank-full's units or categories).
- uplift (Hillstrom): ``recency`` = months since the last card spend (1-12, from the profile's
  spending RFM), ``channel`` = Web for app or news engagement, Multichannel for message opens.
  History (dollars of the past year), mens/womens, newbie and zip code are unknown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from finbridge.acquisition.uplift import FEATURES as UPLIFT_FEATURES

if TYPE_CHECKING:
    import pandas as pd

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
CATEGORICAL = (
    "job", "marital", "education", "default", "housing", "loan", "contact", "month", "poutcome",
)  # fmt: skip
# Hillstrom's channel codes (its categories in sorted order: Multichannel, Phone, Web).
CHANNEL_CODES = {"app": 2.0, "news": 2.0, "messages": 0.0}


@dataclass(frozen=True)
class ContactHistory:
    """What our campaigns did with one customer before today."""

    recent: int  # messages delivered in the last 30 days
    earlier: int  # delivered before that
    days_since_last: int  # -1: never
    converted: bool

    @property
    def outcome(self) -> str:
        if self.converted:
            return "success"
        return "failure" if self.recent + self.earlier else "unknown"


def response_inputs(features: list[str], today: date, history: ContactHistory) -> pd.DataFrame:
    """One row of the response model's features (unknown ones missing)."""
    import pandas as pd

    known: dict[str, object] = {
        "contact": "cellular",
        "day": today.day,
        "month": MONTHS[today.month - 1],
        "campaign": history.recent + 1,
        "previous": history.earlier,
        "pdays": history.days_since_last,
        "poutcome": history.outcome,
    }
    columns = {}
    for name in features:
        value = known.get(name)
        if name in CATEGORICAL:
            columns[name] = pd.Categorical([value])
        else:
            columns[name] = pd.Series([np.nan if value is None else value], dtype="float64")
    return pd.DataFrame(columns)


def uplift_inputs(recency_days: float | None, channel: str) -> np.ndarray:
    """One row of Hillstrom's features (NaN where unknown)."""
    row = np.full(len(UPLIFT_FEATURES), np.nan)
    if recency_days is not None:
        months = min(max(math.ceil(recency_days / 30), 1), 12)
        row[UPLIFT_FEATURES.index("recency")] = months
    if channel in CHANNEL_CODES:
        row[UPLIFT_FEATURES.index("channel")] = CHANNEL_CODES[channel]
    return row.reshape(1, -1)
