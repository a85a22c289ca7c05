"""Payload schemas of the events risk publishes: decisions, labels, rule-set promotions."""

from __future__ import annotations

from finbridge.lake.events import EventPayload, register_schema

SOURCE = "risk"


@register_schema("risk.decision", 1)
class RiskDecisionV1(EventPayload):
    decision_id: str
    event_id: str
    event_type: str
    customer_id: str | None
    outcome: str  # approve, review, step_up, decline
    score: float
    ml_score: float | None
    amount: str  # decimal string, never a JSON number
    currency: str
    rule_set: str
    model_version: str
    fired: list[str]
    reasons: list[str]
    degraded: str | None = None


@register_schema("risk.label", 1)
class RiskLabelV1(EventPayload):
    """An analyst's verdict on an event: the training label of the learning loop."""

    case_id: str
    decision_id: str
    event_id: str
    customer_id: str | None
    label: str  # fraud, not_fraud
    analyst: str


@register_schema("risk.rule_set_promoted", 1)
class RuleSetPromotedV1(EventPayload):
    rule_set_id: str
    name: str
    version: int
    previous: str | None
    promoted_by: str
    mode: str  # live, shadow


@register_schema("risk.model_promoted", 1)
class ModelPromotedV1(EventPayload):
    version: str
    previous: str | None
    promoted_by: str


@register_schema("risk.shadow_model_started", 1)
class ShadowModelStartedV1(EventPayload):
    """A registered model now scores beside the live one (its scores stored, not enforced)."""

    version: str
    previous: str | None  # the shadow model it replaced, if any
    started_by: str


@register_schema("risk.shadow_model_stopped", 1)
class ShadowModelStoppedV1(EventPayload):
    version: str
    stopped_by: str


@register_schema("risk.chargeback", 1)
class ChargebackV1(EventPayload):
    """A card scheme's chargeback: a fraud label from outside, known when the dispute arrived
    (``occurred_at``), for the transaction ``event_id`` decided earlier."""

    event_id: str
    customer_id: str | None
    reason_code: str
    label: str = "fraud"


@register_schema("risk.retrain_evaluated", 1)
class RetrainEvaluatedV1(EventPayload):
    """One turn of the learning loop: the challenger judged beside the champion (audit)."""

    version: str  # the challenger, registered and in shadow
    champion: str | None
    promote: bool
    reason: str
    margin: float
    challenger_average_precision: float
    champion_average_precision: float | None
    train_rows: int
    eval_rows: int
    as_of: str
    run_by: str


@register_schema("risk.model_rolled_back", 1)
class ModelRolledBackV1(EventPayload):
    version: str | None  # the model live again (None: no model, rules only)
    replaced: str | None
    rolled_back_by: str
