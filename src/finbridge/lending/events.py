"""Lending domain events (every decision and money movement is one)."""

from __future__ import annotations

from finbridge.lake.events import EventPayload, register_schema


@register_schema("lending.application_decided", 1)
class ApplicationDecidedV1(EventPayload):
    application_id: str
    product_id: str
    outcome: str
    reasons: list[str]
    limit: str | None = None
    currency: str
    score_model: str | None = None
    policy_version: int


@register_schema("lending.line_activity", 1)
class LineActivityV1(EventPayload):
    line_id: str
    kind: str
    amount: str
    currency: str
    business_date: str
    entry_id: str


@register_schema("lending.statement_closed", 1)
class StatementClosedV1(EventPayload):
    line_id: str
    statement_id: str
    statement_date: str
    due_date: str
    closing: str
    minimum_due: str
    currency: str


@register_schema("lending.cob_day_finished", 1)
class CobDayFinishedV1(EventPayload):
    business_date: str
    steps: list[str]


@register_schema("lending.instalment_converted", 1)
class InstalmentConvertedV1(EventPayload):
    line_id: str
    plan_id: str
    source: str
    source_id: str
    periods: int
    principal: str
    total_fee: str
    currency: str
    business_date: str


@register_schema("lending.limit_reviewed", 1)
class LimitReviewedV1(EventPayload):
    line_id: str
    review_id: str
    outcome: str  # raised | lowered | kept | held
    old_limit: str
    new_limit: str
    currency: str
    score: float | None = None
    score_model: str | None = None
    policy_version: int
    reasons: list[str]


@register_schema("lending.default_label", 1)
class DefaultLabelV1(EventPayload):
    """A line reached 90 days past due: the credit models' default label, known at
    ``occurred_at`` (the close of business that saw it)."""

    line_id: str
    customer_id: str
    dpd: int
    label: str  # default
    business_date: str
