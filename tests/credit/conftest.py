from __future__ import annotations

import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from finbridge.credit import split_target
from finbridge.credit.datasets import GERMAN_TARGET, german
from finbridge.credit.scorecard import Scorecard


@pytest.fixture(scope="session")
def german_split() -> tuple[pd.DataFrame, pd.DataFrame, object, object]:
    X, y = split_target(german(), GERMAN_TARGET)
    return tuple(train_test_split(X, y, test_size=0.3, random_state=7, stratify=y))  # type: ignore[return-value]


@pytest.fixture(scope="session")
def german_scorecard(german_split) -> Scorecard:  # type: ignore[no-untyped-def]
    Xtr, _, ytr, _ = german_split
    return Scorecard().fit(Xtr, ytr)
