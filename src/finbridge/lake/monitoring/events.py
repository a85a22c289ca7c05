"""The monitoring event: a measure past its threshold (the stream carries it to whoever acts)."""

from __future__ import annotations

from finbridge.lake.events import EventPayload, register_schema


@register_schema("monitoring.alert", 1)
class MonitoringAlertV1(EventPayload):
    engine: str  # risk, credit
    model: str
    version: str
    day: str  # the business day monitored, ISO date
    metric: str  # score_psi, feature_psi:<name>, auc, average_precision, ks
    value: float
    threshold: float
    level: str  # alert, retrain
