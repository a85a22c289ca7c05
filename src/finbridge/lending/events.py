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
