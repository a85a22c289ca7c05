"""Wire models for ``/v1/advisory``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field

from finbridge.advisory import (
    Backtest,
    GoalPlan,
    Holding,
    ModelReport,
    Order,
    Product,
    Profile,
    Proposal,
    RebalancingChoice,
    SuitabilityDecision,
)
from finbridge.api.schemas.common import CurrencyCode, EntityId, PositiveAmount, WireModel

_AMOUNT = re.compile(r"^\d{1,15}(\.\d{1,9})?$")


def _non_negative(value: Any) -> str:
    if not isinstance(value, str) or not _AMOUNT.match(value.strip()):
        raise ValueError('amount must be a decimal string such as "0" or "12.50"')
    return value.strip()


NonNegativeAmount = Annotated[str, BeforeValidator(_non_negative)]


class ProfileCreate(WireModel):
    answers: dict[str, Any] = Field(description="question id -> option value (age: a number)")
    version: str | None = Field(default=None, description="questionnaire version; newest if unset")


class ProfilePublic(BaseModel):
    id: str
    customer_id: str
    questionnaire_version: str
    score: int
    score_category: str
    category: str
    caps: list[str]
    assessed_at: dt.datetime
    expires_at: dt.datetime
    expired: bool

    @classmethod
    def of(cls, p: Profile) -> ProfilePublic:
        return cls(
            id=p.id, customer_id=p.customer_id, questionnaire_version=p.questionnaire_version,
            score=p.score, score_category=p.score_category, category=p.category,
            caps=list(p.caps), assessed_at=p.assessed_at, expires_at=p.expires_at,
            expired=p.expired,
        )  # fmt: skip


class ProductPublic(BaseModel):
    code: str
    name: str
    kind: str
    asset_class: str
    risk_level: str
    volatility: float
    max_drawdown: float
    minimum: str
    currency: str
    subscription_fee: str
    settlement_days: int
    leveraged: bool

    @classmethod
    def of(cls, p: Product) -> ProductPublic:
        return cls(
            code=p.code, name=p.name, kind=p.kind, asset_class=p.asset_class,
            risk_level=p.risk_level, volatility=round(p.volatility, 6),
            max_drawdown=round(p.max_drawdown, 6), minimum=str(p.minimum.amount),
            currency=p.currency, subscription_fee=str(p.subscription_fee),
            settlement_days=p.settlement_days, leveraged=p.leveraged,
        )  # fmt: skip


class SuitabilityCheckCreate(WireModel):
    customer_id: EntityId
    product_code: str = Field(min_length=1, max_length=32)
    warning_code: str | None = Field(default=None, max_length=32)
    confirmed: bool = False
    channel: str = "advisory"


class WarningPublic(BaseModel):
    code: str
    text_en: str
    text_zh: str


class SuitabilityPublic(BaseModel):
    id: str
    customer_id: str
    product_code: str
    product_level: str
    category: str | None
    outcome: str
    allowed: bool
    reasons: list[str]
    warning: WarningPublic | None
    confirmed: bool
    second_factor: bool
    channel: str
    created_at: dt.datetime

    @classmethod
    def of(cls, d: SuitabilityDecision) -> SuitabilityPublic:
        w = d.warning
        return cls(
            id=d.id, customer_id=d.customer_id, product_code=d.product_code,
            product_level=d.product_level, category=d.category, outcome=d.outcome,
            allowed=d.allowed, reasons=list(d.reasons),
            warning=WarningPublic(code=w.code, text_en=w.text_en, text_zh=w.text_zh) if w else None,
            confirmed=d.confirmed, second_factor=d.second_factor, channel=d.channel,
            created_at=d.created_at,
        )  # fmt: skip


class MetricsPublic(BaseModel):
    annual_return: float
    annual_volatility: float
    sharpe: float
    max_drawdown: float
    cvar_95: float
    risk_level: str


class ModelPublic(BaseModel):
    name: str
    method: str
    why: str
    weights: dict[str, float]
    turnover: float = Field(description="average one-way turnover per rebalance, first build too")
    largest_rebalance: float = Field(description="largest one-way turnover of a later rebalance")
    max_turnover: float | None = Field(
        description="the limit each refit was held to (none: no cap)"
    )
    over_limit: int = Field(description="rebalances that needed more to repair a weight rule")
    out_of_sample: MetricsPublic


class WeightsCreate(WireModel):
    weights: dict[str, float] = Field(description="fund code -> weight; weights sum to one")


def model_public(b: Backtest) -> ModelPublic:
    m = b.metrics
    return ModelPublic(
        name=b.name, method=b.method, why=b.why,
        weights={k: round(v, 6) for k, v in b.weights.items()}, turnover=round(b.turnover, 6),
        largest_rebalance=round(b.largest_rebalance, 6), max_turnover=b.max_turnover,
        over_limit=len(b.over_limit),
        out_of_sample=MetricsPublic(
            annual_return=m.annual_return, annual_volatility=m.annual_volatility,
            sharpe=m.sharpe, max_drawdown=m.max_drawdown, cvar_95=m.cvar_95,
            risk_level=m.risk_level,
        ),
    )  # fmt: skip


class ModelsPublic(BaseModel):
    start: dt.date
    end: dt.date
    risk_ordered: bool
    models: list[ModelPublic]
    benchmarks: list[ModelPublic]
    report_url: str = "/v1/advisory/report"

    @classmethod
    def of(cls, r: ModelReport) -> ModelsPublic:
        return cls(
            start=r.start, end=r.end, risk_ordered=r.risk_ordered(),
            models=[model_public(b) for b in r.models],
            benchmarks=[model_public(b) for b in r.benchmarks],
        )  # fmt: skip


class PlanCreate(WireModel):
    target: PositiveAmount
    target_date: dt.date
    initial: NonNegativeAmount = "0"
    monthly: NonNegativeAmount = "0"
    currency: CurrencyCode = "USD"


class PlanPublic(BaseModel):
    category: str
    currency: str
    target: str
    target_date: dt.date
    months: int
    months_shown: list[int]
    paths: int
    method: str
    probability: float
    p5: list[str]
    p50: list[str]
    p95: list[str]
    loss_2008: float
    explanation: list[str]
    explanation_zh: list[str]

    @classmethod
    def of(cls, g: GoalPlan) -> PlanPublic:
        return cls(
            category=g.category, currency=g.target.code, target=str(g.target.amount),
            target_date=g.target_date, months=g.months,
            months_shown=list(g.months_shown), paths=g.paths, method=g.method,
            probability=g.probability, p5=[str(v) for v in g.p5], p50=[str(v) for v in g.p50],
            p95=[str(v) for v in g.p95], loss_2008=g.loss_2008, explanation=list(g.explanation),
            explanation_zh=list(g.explanation_zh),
        )  # fmt: skip


class SubscriptionCreate(WireModel):
    account_id: EntityId
    product_code: str = Field(min_length=1, max_length=32)
    amount: PositiveAmount
    currency: CurrencyCode
    warning_code: str | None = Field(default=None, max_length=32)
    confirmed: bool = False


class RedemptionCreate(WireModel):
    account_id: EntityId
    product_code: str = Field(min_length=1, max_length=32)
    units: PositiveAmount


class OrderPublic(BaseModel):
    id: str
    product_code: str
    side: str
    status: str
    amount: str
    fee: str
    currency: str
    units: str | None
    nav: str | None
    trade_date: dt.date
    settle_date: dt.date
    suitability_id: str | None

    @classmethod
    def of(cls, o: Order) -> OrderPublic:
        return cls(
            id=o.id, product_code=o.product_code, side=o.side, status=o.status,
            amount=str(o.amount.amount), fee=str(o.fee.amount), currency=o.amount.code,
            units=None if o.units is None else str(o.units),
            nav=None if o.nav is None else str(o.nav), trade_date=o.trade_date,
            settle_date=o.settle_date, suitability_id=o.suitability_id,
        )  # fmt: skip


class HoldingPublic(BaseModel):
    product_code: str
    units: str
    cost: str
    value: str
    gain: str
    currency: str
    nav: str
    nav_date: dt.date

    @classmethod
    def of(cls, h: Holding) -> HoldingPublic:
        return cls(
            product_code=h.product_code, units=str(h.units), cost=str(h.cost.amount),
            value=str(h.value.amount), gain=str(h.gain.amount), currency=h.value.code,
            nav=str(h.nav), nav_date=h.nav_date,
        )  # fmt: skip


class RebalanceCreate(WireModel):
    new_cash: NonNegativeAmount = "0"
    currency: CurrencyCode = "USD"


class RebalanceAccept(WireModel):
    account_id: EntityId
    new_cash: NonNegativeAmount = "0"
    currency: CurrencyCode = "USD"


class TradePublic(BaseModel):
    product_code: str
    side: str
    amount: str
    reason: str


class ProposalPublic(BaseModel):
    total: str
    currency: str
    weights: dict[str, float]
    target: dict[str, float]
    out_of_band: list[str]
    trades: list[TradePublic]
    skipped: list[str]

    @classmethod
    def of(cls, p: Proposal) -> ProposalPublic:
        return cls(
            total=str(p.total.amount), currency=p.total.code,
            weights={k: round(v, 6) for k, v in p.weights.items()},
            target={k: round(v, 6) for k, v in p.target.items()},
            out_of_band=list(p.out_of_band),
            trades=[TradePublic(product_code=t.product_code, side=t.side,
                                amount=str(t.amount.amount), reason=t.reason) for t in p.trades],
            skipped=list(p.skipped),
        )  # fmt: skip


class RebalancingChoiceUpdate(WireModel):
    account_id: EntityId
    automatic: bool


class RebalancingChoicePublic(BaseModel):
    customer_id: str
    account_id: str
    automatic: bool
    updated_at: dt.datetime

    @classmethod
    def of(cls, c: RebalancingChoice) -> RebalancingChoicePublic:
        return cls(customer_id=c.customer_id, account_id=c.account_id, automatic=c.automatic,
                   updated_at=c.updated_at)  # fmt: skip
