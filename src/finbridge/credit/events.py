"""Credit events published to the lake through the outbox."""

from __future__ import annotations

from finbridge.lake.events import EventPayload, register_schema


@register_schema("credit.model_registered", 1)
class ModelRegistered(EventPayload):
    model_name: str
    version: int
    kind: str
    artifact_sha256: str
    data_fingerprint: str
    trained_by: str


@register_schema("credit.model_promoted", 1)
class ModelPromoted(EventPayload):
    model_name: str
    version: int
    previous_version: int | None
    promoted_by: str


@register_schema("credit.scored", 1)
class Scored(EventPayload):
    score_id: str
    model_name: str
    version: int
    score: float
    band: str
    mode: str
