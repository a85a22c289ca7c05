"""The repayment behaviour model: a Markov chain of monthly repayment status.

Fitted on the Taiwan clients' repayment-status columns, read oldest to newest
(PAY_6 -> PAY_5 -> PAY_4 -> PAY_3 -> PAY_2 -> PAY_0: April to September 2005; the file has no
PAY_1), five observed transitions per client. States: pay in full (-2 "no consumption" and -1
"paid duly"), minimum (0: revolving, the minimum paid), then 1..6+ months late (values 7 and 8
fold into 6+, the M6+ bucket). Every transition counts once; each row gets ``alpha`` added to
every cell (additive smoothing) before it is normalised, so a state seen rarely still has a
proper distribution and no transition has probability zero.

The file writes a first missed payment as 2 in PAY_2..PAY_6 (1 appears almost only in PAY_0), so
"current -> 2 months late" is common in the counts. The chain keeps the states as observed; the
simulation reads a late state as "did not pay this month" and advances the delinquency of the
line by at most one month per cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from finbridge.core.errors import ValidationError

STATES = ("full", "minimum", "late1", "late2", "late3", "late4", "late5", "late6+")
FULL, MINIMUM = 0, 1
MAX_LATE = 6
# Oldest first: each column's next one is the following month's status.
PAY_COLUMNS = ("PAY_6", "PAY_5", "PAY_4", "PAY_3", "PAY_2", "PAY_0")

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def status_state(pay: I64) -> I64:
    """The Taiwan repayment status (-2..8) as a state index of :data:`STATES`."""
    pay = np.asarray(pay, dtype=np.int64)
    if pay.size and (pay.min() < -2 or pay.max() > 9):
        raise ValidationError("repayment status must be from -2 to 9", field="pay_status")
    late = np.minimum(pay, MAX_LATE) + 1
    return np.where(pay <= -1, FULL, np.where(pay == 0, MINIMUM, late)).astype(np.int64)


@dataclass(frozen=True, slots=True)
class RepaymentModel:
    """``matrix[i, j]``: the probability that a customer in state i is in state j next month."""

    counts: I64  # observed transitions, before smoothing
    matrix: F64
    alpha: float

    @property
    def transitions(self) -> int:
        return int(self.counts.sum())

    def step(self, states: I64, uniform: F64) -> I64:
        """Next month's states, one uniform draw per customer (inverse CDF of its row)."""
        cdf = np.cumsum(self.matrix, axis=1)
        cdf[:, -1] = 1.0  # the last bin closes at exactly 1 whatever the rounding of the sum
        return (uniform[:, None] > cdf[states]).sum(axis=1).astype(np.int64)

    def to_json(self) -> dict[str, object]:
        return {
            "states": list(STATES),
            "alpha": self.alpha,
            "transitions": self.transitions,
            "matrix": [[round(float(p), 6) for p in row] for row in self.matrix],
        }


def fit_repayment_model(status: I64, alpha: float = 0.5) -> RepaymentModel:
    """Estimate the transition matrix from a (customers x months) status array, oldest first."""
    status = np.asarray(status)
    if status.ndim != 2 or status.shape[1] < 2 or status.shape[0] == 0:
        raise ValidationError(
            "repayment status needs at least one customer and two months", field="pay_status"
        )
    if not alpha > 0:
        raise ValidationError("alpha must be positive", field="alpha")
    states = status_state(status)
    n = len(STATES)
    pairs = states[:, :-1] * n + states[:, 1:]
    counts = np.bincount(pairs.ravel(), minlength=n * n).reshape(n, n).astype(np.int64)
    smoothed = counts + alpha
    matrix = smoothed / smoothed.sum(axis=1, keepdims=True)
    return RepaymentModel(counts, matrix, alpha)
