"""Wire types of ``/v1/lending``: amounts as decimal strings, dates as ISO dates."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from finbridge.api.schemas.common import CurrencyCode, EntityId, PositiveAmount, WireModel
from finbridge.core.money import Money
from finbridge.lending import (
    Application,
    CobDay,
    CobStatus,
    InstalmentPlan,
    LimitReview,
    Line,
    ProductTerms,
    Purchase,
    Reconciliation,
    Statement,
)


def _amt(m: Money | None) -> str | None:
    return None if m is None else str(m.amount)


class ApplicationCreate(WireModel):
    customer_id: EntityId
    product_id: str = Field(min_length=1, max_length=64)
    deposit_account_id: EntityId
    income_band: str = Field(min_length=1, max_length=16)
    applicant: dict[str, Any] = Field(
        default_factory=dict, description="The applicant's features for the credit model"
    )


class AmountCreate(WireModel):
    amount: PositiveAmount
    currency: CurrencyCode = "CNY"


class PurchaseCreate(AmountCreate):
    merchant: str = Field(min_length=1, max_length=120)


class CaptureCreate(WireModel):
    amount: PositiveAmount | None = None
    currency: CurrencyCode = "CNY"


class RepaymentCreate(AmountCreate):
    from_account_id: EntityId | None = None


class CobRun(WireModel):
    until: date | None = None


class ProductPublic(BaseModel):
    id: str
    terms: dict[str, Any]

    @classmethod
    def of(cls, p: ProductTerms) -> ProductPublic:
        return cls(id=p.product_id, terms=p.to_json())


class ApplicationPublic(BaseModel):
    id: str
    customer_id: str
    product_id: str
    policy_version: int
    outcome: str
    reasons: list[str]
    score: float | None
    score_model: str | None
    score_reasons: list[Any]
    risk_outcome: str | None
    limit: str | None
    currency: str | None
    line_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, a: Application) -> ApplicationPublic:
        return cls(
            id=a.id, customer_id=a.customer_id, product_id=a.product_id,
            policy_version=a.policy_version, outcome=a.outcome, reasons=list(a.reasons),
            score=a.score, score_model=a.score_model, score_reasons=list(a.score_reasons),
            risk_outcome=a.risk_outcome, limit=_amt(a.limit),
            currency=a.limit.code if a.limit else None, line_id=a.line_id,
            created_at=a.created_at,
        )  # fmt: skip


class LinePublic(BaseModel):
    id: str
    customer_id: str
    product_id: str
    currency: str
    account_id: str
    limit: str
    available: str
    owed: str
    credit_balance: str
    buckets: dict[str, str]
    status: str
    opened_on: date
    next_statement_date: date
    dpd: int
    bucket: str
    over_limit: str
    charged_off: str
    recovered: str

    @classmethod
    def of(cls, line: Line) -> LinePublic:
        available = line.limit - line.owed + line.credit_balance
        return cls(
            id=line.id, customer_id=line.customer_id, product_id=line.product_id,
            currency=line.currency, account_id=line.account_id, limit=str(line.limit.amount),
            available=str(max(available, Money.zero(line.currency)).amount),
            owed=str(line.owed.amount), credit_balance=str(line.credit_balance.amount),
            buckets={k: str(v.amount) for k, v in line.buckets.items()}, status=line.status,
            opened_on=line.opened_on, next_statement_date=line.next_statement_date,
            dpd=line.dpd, bucket=line.bucket, over_limit=str(line.over_limit.amount),
            charged_off=str(line.charged_off.amount), recovered=str(line.recovered.amount),
        )  # fmt: skip


class PurchasePublic(BaseModel):
    id: str
    line_id: str
    merchant: str
    authorised: str
    captured: str
    refunded: str
    currency: str
    status: str
    created_at: datetime

    @classmethod
    def of(cls, p: Purchase) -> PurchasePublic:
        return cls(
            id=p.id, line_id=p.line_id, merchant=p.merchant,
            authorised=str(p.authorised.amount), captured=str(p.captured.amount),
            refunded=str(p.refunded.amount), currency=p.authorised.code, status=p.status,
            created_at=p.created_at,
        )  # fmt: skip


class StatementPublic(BaseModel):
    id: str
    line_id: str
    statement_date: date
    period_start: date
    due_date: date
    currency: str
    opening: str
    purchases: str
    refunds: str
    cash: str
    fees: str
    interest: str
    payments: str
    other: str
    closing: str
    minimum_due: str
    paid: str
    status: str
    converted: str = Field(description="Part of closing in instalment plans, not due yet")
    due: str = Field(description="What this statement asks to be paid in full")

    @classmethod
    def of(cls, s: Statement) -> StatementPublic:
        return cls(
            id=s.id, line_id=s.line_id, statement_date=s.statement_date,
            period_start=s.period_start, due_date=s.due_date, currency=s.closing.code,
            opening=str(s.opening.amount), purchases=str(s.purchases.amount),
            refunds=str(s.refunds.amount), cash=str(s.cash.amount), fees=str(s.fees.amount),
            interest=str(s.interest.amount), payments=str(s.payments.amount),
            other=str(s.other.amount), closing=str(s.closing.amount),
            minimum_due=str(s.minimum_due.amount), paid=str(s.paid.amount), status=s.status,
            converted=str(s.converted.amount), due=str(s.due.amount),
        )  # fmt: skip


class ReconciliationPublic(BaseModel):
    statement_id: str
    reconciled: bool
    statement_movement: str
    ledger_movement: str
    entries_checked: int

    @classmethod
    def of(cls, r: Reconciliation) -> ReconciliationPublic:
        return cls(
            statement_id=r.statement_id, reconciled=r.reconciled,
            statement_movement=str(r.statement_movement.amount),
            ledger_movement=str(r.ledger_movement.amount), entries_checked=r.entries_checked,
        )  # fmt: skip


class CobDayPublic(BaseModel):
    business_date: date
    status: str
    started_at: datetime
    finished_at: datetime | None
    steps: list[dict[str, Any]]

    @classmethod
    def of(cls, d: CobDay) -> CobDayPublic:
        steps = [
            {"step": s.step, "status": s.status, "result": s.result,
             "started_at": s.started_at.isoformat(),
             "finished_at": s.finished_at.isoformat() if s.finished_at else None}
            for s in d.steps
        ]  # fmt: skip
        return cls(
            business_date=d.business_date, status=d.status, started_at=d.started_at,
            finished_at=d.finished_at, steps=steps,
        )  # fmt: skip


class CobStatusPublic(BaseModel):
    last_done: date | None
    running: date | None
    next_date: date | None
    due_until: date
    behind: int
    steps: list[str]
    recent: list[CobDayPublic]

    @classmethod
    def of(cls, s: CobStatus) -> CobStatusPublic:
        return cls(
            last_done=s.last_done, running=s.running, next_date=s.next_date,
            due_until=s.due_until, behind=s.behind, steps=list(s.steps),
            recent=[CobDayPublic.of(d) for d in s.recent],
        )  # fmt: skip


class InstalmentCreate(WireModel):
    source: Literal["purchase", "statement"]
    source_id: EntityId
    periods: Literal[3, 6, 9, 12]


class InstalmentPeriodPublic(BaseModel):
    number: int
    bill_date: date
    principal: str
    fee: str
    total: str
    status: str


class InstalmentPlanPublic(BaseModel):
    id: str | None = Field(description="None on a quote: nothing is converted until confirmed")
    line_id: str
    source: str
    source_id: str
    periods: int
    currency: str
    principal: str
    fee_per_period: str
    fee_mode: str
    upfront_fee: str
    total_fee: str
    remaining: str
    status: str
    schedule: list[InstalmentPeriodPublic]

    @classmethod
    def of(cls, p: InstalmentPlan) -> InstalmentPlanPublic:
        return cls(
            id=p.id, line_id=p.line_id, source=p.source, source_id=p.source_id,
            periods=p.periods, currency=p.principal.code, principal=str(p.principal.amount),
            fee_per_period=str(p.fee_per_period.amount), fee_mode=p.fee_mode,
            upfront_fee=str(p.upfront_fee.amount), total_fee=str(p.total_fee.amount),
            remaining=str(p.remaining.amount), status=p.status,
            schedule=[
                InstalmentPeriodPublic(
                    number=x.number, bill_date=x.bill_date, principal=str(x.principal.amount),
                    fee=str(x.fee.amount), total=str(x.total.amount), status=x.status,
                )
                for x in p.schedule
            ],
        )  # fmt: skip


class LimitReviewPublic(BaseModel):
    id: str
    line_id: str
    business_date: date
    outcome: str
    currency: str
    old_limit: str
    new_limit: str
    used: str
    score: float | None
    score_model: str | None
    policy_version: int
    reasons: list[str]

    @classmethod
    def of(cls, r: LimitReview) -> LimitReviewPublic:
        return cls(
            id=r.id, line_id=r.line_id, business_date=r.business_date, outcome=r.outcome,
            currency=r.new_limit.code, old_limit=str(r.old_limit.amount),
            new_limit=str(r.new_limit.amount), used=str(r.used.amount), score=r.score,
            score_model=r.score_model, policy_version=r.policy_version, reasons=list(r.reasons),
        )  # fmt: skip
