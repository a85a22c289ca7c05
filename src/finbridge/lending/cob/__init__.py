"""The close of business: the runner, its journal, and lending's own steps."""

from finbridge.lending.cob._runner import (
    CobDay,
    CobRunner,
    CobStatus,
    CobStep,
    FunctionStep,
    Progress,
    StepRecord,
)
from finbridge.lending.cob._steps import LendingDay, bucket_for, minimum_due

__all__ = [
    "CobDay",
    "CobRunner",
    "CobStatus",
    "CobStep",
    "FunctionStep",
    "LendingDay",
    "Progress",
    "StepRecord",
    "bucket_for",
    "minimum_due",
]
