"""Data quality for the lake and the feature store (pandera underneath).

- :func:`check_frame`: one call checking any frame (schema, nulls, ranges, uniqueness,
  freshness, volume against recent counts) and returning a :class:`QualityReport`; the feature
  store calls it on every materialisation (``report.raise_if_failed()`` to refuse outright).
- :func:`check_event_batch`: the lake's checks on every appended batch (:class:`QualityPolicy`).
- :class:`Quarantine`: failing batches kept whole with their reasons, and operators' release or
  discard decisions.
"""

from finbridge.lake.quality._batch import QualityPolicy, check_event_batch
from finbridge.lake.quality._frame import Failure, QualityError, QualityReport, check_frame
from finbridge.lake.quality._quarantine import Quarantine, QuarantinedBatch

__all__ = [
    "Failure",
    "QualityError",
    "QualityPolicy",
    "QualityReport",
    "Quarantine",
    "QuarantinedBatch",
    "check_event_batch",
    "check_frame",
]
