"""``/v1/advisory``: questionnaire, profiles, products, suitability, portfolios, plans.

Thin: parse, build values, call one ``platform.advisory`` method with the principal.
Suitability is decided in the service; a check above the customer's level answers 200 with
``allowed: false`` and the warning to show (the caller then confirms with its code).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import HTMLResponse

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.api.schemas.advisory import (
    HoldingPublic,
    ModelPublic,
    ModelsPublic,
    OrderPublic,
    PlanCreate,
    PlanPublic,
    ProductPublic,
    ProfileCreate,
    ProfilePublic,
    ProposalPublic,
    RebalanceAccept,
    RebalanceCreate,
    RebalancingChoicePublic,
    RebalancingChoiceUpdate,
    RedemptionCreate,
    SubscriptionCreate,
    SuitabilityCheckCreate,
    SuitabilityPublic,
    WeightsCreate,
    model_public,
)
from finbridge.core.errors import ValidationError
from finbridge.core.money import Money

router = APIRouter(prefix="/advisory", tags=["advisory"])


@router.get("/questionnaire", summary="The risk questionnaire (zh-CN and en)")
def questionnaire(
    platform: PlatformDep, principal: PrincipalDep, version: str | None = None
) -> dict[str, Any]:
    return platform.advisory.questionnaire(version).model_dump(by_alias=True)


@router.get("/questionnaire/versions", summary="Shipped questionnaire versions, oldest first")
def questionnaire_versions(platform: PlatformDep, principal: PrincipalDep) -> list[str]:
    return list(platform.advisory.questionnaire_versions())


@router.post(
    "/customers/{customer_id}/profile",
    response_model=ProfilePublic,
    status_code=201,
    summary="Answer the questionnaire: score, category C1..C5, stored with its version",
)
def submit_profile(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str, body: ProfileCreate
) -> ProfilePublic:
    made = platform.advisory.submit_profile(
        principal, customer_id, body.answers, version=body.version
    )
    return ProfilePublic.of(made)


@router.get(
    "/customers/{customer_id}/profile", response_model=ProfilePublic, summary="The live profile"
)
def get_profile(platform: PlatformDep, principal: PrincipalDep, customer_id: str) -> ProfilePublic:
    return ProfilePublic.of(platform.advisory.profile(principal, customer_id))


@router.get("/products", response_model=list[ProductPublic], summary="The catalogue with levels")
def products(
    platform: PlatformDep,
    principal: PrincipalDep,
    max_level: Annotated[str | None, Query(pattern="^R[1-5]$")] = None,
) -> list[ProductPublic]:
    return [ProductPublic.of(p) for p in platform.advisory.products(max_level)]


@router.post(
    "/suitability-checks",
    response_model=SuitabilityPublic,
    summary="Decide (and record) whether a customer may buy a product",
)
def check_suitability(
    platform: PlatformDep, principal: PrincipalDep, body: SuitabilityCheckCreate
) -> SuitabilityPublic:
    decision = platform.advisory.check_suitability(
        principal, body.customer_id, body.product_code, warning_code=body.warning_code,
        confirmed=body.confirmed, channel=body.channel,
    )  # fmt: skip
    return SuitabilityPublic.of(decision)


@router.get(
    "/suitability-checks",
    response_model=list[SuitabilityPublic],
    summary="Suitability evidence, newest first",
)
def suitability_evidence(
    platform: PlatformDep,
    principal: PrincipalDep,
    customer_id: str | None = None,
    product_code: str | None = None,
    outcome: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[SuitabilityPublic]:
    found = platform.advisory.evidence(
        principal, customer_id=customer_id, product_code=product_code, outcome=outcome,
        limit=limit,
    )  # fmt: skip
    return [SuitabilityPublic.of(d) for d in found]


@router.get(
    "/portfolios",
    response_model=ModelsPublic,
    summary="C1..C5 model portfolios with out-of-sample metrics beside equal weight and 60/40",
)
def portfolios(platform: PlatformDep, principal: PrincipalDep) -> ModelsPublic:
    return ModelsPublic.of(platform.advisory.model_portfolios(principal))


@router.post(
    "/portfolios/evaluate",
    response_model=ModelPublic,
    summary="Out-of-sample figures of a hand-made model (weights summing to one)",
)
def evaluate(platform: PlatformDep, principal: PrincipalDep, body: WeightsCreate) -> ModelPublic:
    return model_public(platform.advisory.evaluate_model(principal, body.weights))


@router.get(
    "/report", response_class=HTMLResponse, summary="The walk-forward report (HTML, SVG charts)"
)
def report(platform: PlatformDep, principal: PrincipalDep) -> HTMLResponse:
    page = platform.advisory.report_html(principal)
    return HTMLResponse(
        page, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
    )


@router.post(
    "/customers/{customer_id}/plans",
    response_model=PlanPublic,
    summary="A goal plan: Monte Carlo (5,000 bootstrap paths) on the customer's model portfolio",
)
def plan(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str, body: PlanCreate
) -> PlanPublic:
    made = platform.advisory.plan(
        principal, customer_id,
        target=Money.of(body.target, body.currency),
        target_date=body.target_date,
        initial=Money.of(body.initial, body.currency),
        monthly=Money.of(body.monthly, body.currency),
    )  # fmt: skip
    return PlanPublic.of(made)


def _key(value: str | None) -> str:
    if not value:
        raise ValidationError("an Idempotency-Key header is required", field="Idempotency-Key")
    return value


IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)]


@router.post(
    "/customers/{customer_id}/subscriptions",
    response_model=OrderPublic,
    status_code=201,
    summary="Buy a product: suitability checked, cash debited now, units at the NAV after T+n",
)
def subscribe(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str, body: SubscriptionCreate,
    idempotency_key: IdempotencyKey = None,
) -> OrderPublic:  # fmt: skip
    order = platform.advisory.subscribe(
        principal, customer_id, account_id=body.account_id, product_code=body.product_code,
        amount=Money.of(body.amount, body.currency), idempotency_key=_key(idempotency_key),
        warning_code=body.warning_code, confirmed=body.confirmed,
    )  # fmt: skip
    return OrderPublic.of(order)


@router.post(
    "/customers/{customer_id}/redemptions",
    response_model=OrderPublic,
    status_code=201,
    summary="Sell units: reserved now, paid at the NAV after T+n",
)
def redeem(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str, body: RedemptionCreate,
    idempotency_key: IdempotencyKey = None,
) -> OrderPublic:  # fmt: skip
    order = platform.advisory.redeem(
        principal, customer_id, account_id=body.account_id, product_code=body.product_code,
        units=Decimal(body.units), idempotency_key=_key(idempotency_key),
    )  # fmt: skip
    return OrderPublic.of(order)


@router.get("/customers/{customer_id}/orders", response_model=list[OrderPublic], summary="Orders")
def orders(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[OrderPublic]:  # fmt: skip
    return [OrderPublic.of(o) for o in platform.advisory.orders(principal, customer_id, limit)]


@router.get(
    "/customers/{customer_id}/holdings",
    response_model=list[HoldingPublic],
    summary="Holdings in units with cost basis and valuation",
)
def holdings(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str
) -> list[HoldingPublic]:
    return [HoldingPublic.of(h) for h in platform.advisory.holdings(principal, customer_id)]


@router.post(
    "/customers/{customer_id}/rebalancing",
    response_model=ProposalPublic,
    summary="A rebalancing proposal toward the customer's model (new money first)",
)
def rebalancing(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str, body: RebalanceCreate
) -> ProposalPublic:
    proposal = platform.advisory.rebalance_proposal(
        principal, customer_id, new_cash=Money.of(body.new_cash, body.currency)
    )
    return ProposalPublic.of(proposal)


@router.post("/settlements", response_model=list[OrderPublic], summary="Settle due orders")
def settle(platform: PlatformDep, principal: PrincipalDep) -> list[OrderPublic]:
    return [OrderPublic.of(o) for o in platform.advisory.settle_due(principal)]


@router.post(
    "/customers/{customer_id}/rebalancing/accept",
    response_model=list[OrderPublic],
    status_code=201,
    summary="Accept the current proposal: the model matched as a whole, one order per trade",
)
def accept_rebalancing(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str, body: RebalanceAccept,
    idempotency_key: IdempotencyKey = None,
) -> list[OrderPublic]:  # fmt: skip
    orders = platform.advisory.accept_rebalance(
        principal, customer_id, account_id=body.account_id,
        new_cash=Money.of(body.new_cash, body.currency), idempotency_key=_key(idempotency_key),
    )  # fmt: skip
    return [OrderPublic.of(o) for o in orders]


@router.get(
    "/customers/{customer_id}/rebalancing/choice",
    response_model=RebalancingChoicePublic | None,
    summary="The customer's standing choice of automatic rebalancing (null: proposals only)",
)
def rebalancing_choice(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str
) -> RebalancingChoicePublic | None:
    choice = platform.advisory.rebalancing_choice(principal, customer_id)
    return RebalancingChoicePublic.of(choice) if choice is not None else None


@router.put(
    "/customers/{customer_id}/rebalancing/choice",
    response_model=RebalancingChoicePublic,
    summary="Switch automatic rebalancing on or off (the customer only; run at close of business)",
)
def choose_rebalancing(
    platform: PlatformDep, principal: PrincipalDep, customer_id: str,
    body: RebalancingChoiceUpdate,
) -> RebalancingChoicePublic:  # fmt: skip
    choice = platform.advisory.choose_rebalancing(
        principal, customer_id, account_id=body.account_id, automatic=body.automatic
    )
    return RebalancingChoicePublic.of(choice)
