"""Features derived from window features: ratios and a z-score, one definition for both paths.

The online engine applies :func:`derive` to one event's feature map; the batch path
(:mod:`finbridge.risk.models._features`) applies the same table of ratios column-wise. A ratio whose
denominator is zero (no history yet) is 0, never an error.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

# (name, numerator, denominator)
RATIOS: tuple[tuple[str, str, str], ...] = (
    ("amount_to_customer_avg_30d", "amount", "customer_avg_30d"),
    ("amount_to_customer_avg_180d", "amount", "customer_avg_180d"),
    ("customer_avg_1d_to_180d", "customer_avg_1d", "customer_avg_180d"),
    ("customer_avg_7d_to_180d", "customer_avg_7d", "customer_avg_180d"),
    ("customer_max_1d_to_avg_180d", "customer_max_1d", "customer_avg_180d"),
    ("customer_max_7d_to_avg_180d", "customer_max_7d", "customer_avg_180d"),
)
ZSCORE = ("amount_zscore_180d", "amount", "customer_avg_180d", "customer_std_180d")
DERIVED_NAMES: tuple[str, ...] = (*(r[0] for r in RATIOS), ZSCORE[0])


def derive(features: MutableMapping[str, Any]) -> None:
    for name, num, den in RATIOS:
        d = features.get(den, 0.0)
        features[name] = features.get(num, 0.0) / d if d > 0 else 0.0
    name, value, mean, std = ZSCORE
    s = features.get(std, 0.0)
    features[name] = (features.get(value, 0.0) - features.get(mean, 0.0)) / s if s > 0 else 0.0
