"""Advisory domain events (registered with the lake on import)."""

from __future__ import annotations

from finbridge.lake.events import EventPayload, register_schema


@register_schema("advisory.profile_assessed", 1)
class ProfileAssessedV1(EventPayload):
    """A customer completed the risk questionnaire (answers stay in the database)."""

    profile_id: str
    questionnaire_version: str
    score: int
    category: str
    capped: bool


@register_schema("advisory.suitability_checked", 1)
class SuitabilityCheckedV1(EventPayload):
    """One suitability match was decided and its evidence stored."""

    record_id: str
    product_code: str
    product_level: str
    category: str | None
    outcome: str
    allowed: bool
    channel: str


@register_schema("advisory.order_placed", 1)
class OrderPlacedV1(EventPayload):
    """A subscription or redemption was accepted (cash moved at order for subscriptions)."""

    order_id: str
    product_code: str
    side: str
    amount: str
    currency: str
    settle_date: str


@register_schema("advisory.rebalancing_chosen", 1)
class RebalancingChosenV1(EventPayload):
    """A customer switched automatic rebalancing on or off for an account."""

    account_id: str
    automatic: bool


@register_schema("advisory.rebalanced", 1)
class RebalancedV1(EventPayload):
    """A rebalancing proposal was carried out (by the customer, or automatically by the nightly
    job for a customer who opted in)."""

    automatic: bool
    orders: int
    largest_drift: float
