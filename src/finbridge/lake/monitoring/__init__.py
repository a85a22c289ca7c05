"""Model monitoring shared by the engines: PSI/CSI drift, label-delayed AUC/AP/KS, alerts on
configured thresholds, and the runs stored per model and day.

It sits in the lake (below the engines) so credit and risk use one implementation without
importing each other. NumPy on import; scikit-learn loads when a performance is computed."""

from finbridge.lake.monitoring import events as _events  # noqa: F401 - registers the schema
from finbridge.lake.monitoring._measures import (
    NO_LABELS,
    NO_TRAFFIC,
    PSI_ALERT,
    PSI_RETRAIN,
    Alert,
    DriftReport,
    Performance,
    Thresholds,
    alerts,
    drift,
    performance,
    psi,
    psi_status,
)
from finbridge.lake.monitoring._store import ENGINES, MonitorRun, MonitorStore

__all__ = [
    "ENGINES",
    "NO_LABELS",
    "NO_TRAFFIC",
    "PSI_ALERT",
    "PSI_RETRAIN",
    "Alert",
    "DriftReport",
    "MonitorRun",
    "MonitorStore",
    "Performance",
    "Thresholds",
    "alerts",
    "drift",
    "performance",
    "psi",
    "psi_status",
]
