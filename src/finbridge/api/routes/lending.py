"""``/v1/lending``: products, applications, lines, purchases, repayments, statements, COB.

Thin: parse, build ``Money``, call one ``platform.lending`` (or ``platform.cob``) method with the
principal; the service authorises (customers see only their own lines: 404 for others').
Money-moving requests need the ``Idempotency-Key`` header.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.api.routes.banking import IdempotencyKey
from finbridge.api.schemas.lending import (
    AmountCreate,
    ApplicationCreate,
    ApplicationPublic,
    CaptureCreate,
    CobRun,
    CobStatusPublic,
    InstalmentCreate,
    InstalmentPlanPublic,
    LimitReviewPublic,
    LinePublic,
    ProductPublic,
    PurchaseCreate,
    PurchasePublic,
    ReconciliationPublic,
    RepaymentCreate,
    StatementPublic,
)
from finbridge.core.money import Money

router = APIRouter(prefix="/lending", tags=["lending"])


@router.get("/products", response_model=list[ProductPublic], summary="Credit-line products")
def list_products(platform: PlatformDep, actor: PrincipalDep) -> list[ProductPublic]:
    return [ProductPublic.of(p) for p in platform.lending.products(actor)]


@router.post(
    "/applications", response_model=ApplicationPublic, status_code=201,
    summary="Apply for a credit line (declines are stored and returned with reasons)",
)  # fmt: skip
def apply(
    body: ApplicationCreate, platform: PlatformDep, actor: PrincipalDep, key: IdempotencyKey
) -> ApplicationPublic:
    app = platform.lending.apply(
        actor, body.customer_id, product_id=body.product_id,
        deposit_account_id=body.deposit_account_id, income_band=body.income_band,
        applicant=body.applicant, idempotency_key=key,
    )  # fmt: skip
    return ApplicationPublic.of(app)


@router.get("/applications/{application_id}", response_model=ApplicationPublic)
def get_application(
    application_id: str, platform: PlatformDep, actor: PrincipalDep
) -> ApplicationPublic:
    return ApplicationPublic.of(platform.lending.application(actor, application_id))


@router.get("/lines", response_model=list[LinePublic], summary="Lines (a customer: their own)")
def list_lines(
    platform: PlatformDep,
    actor: PrincipalDep,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[LinePublic]:
    lines = platform.lending.lines(actor, customer_id=customer_id, limit=limit)
    return [LinePublic.of(x) for x in lines]


@router.get("/lines/{line_id}", response_model=LinePublic)
def get_line(line_id: str, platform: PlatformDep, actor: PrincipalDep) -> LinePublic:
    return LinePublic.of(platform.lending.line(actor, line_id))


@router.post("/lines/{line_id}/purchases", response_model=PurchasePublic, status_code=201)
def authorise_purchase(
    line_id: str,
    body: PurchaseCreate,
    platform: PlatformDep,
    actor: PrincipalDep,
    key: IdempotencyKey,
) -> PurchasePublic:
    amount = Money.of(body.amount, body.currency)
    purchase = platform.lending.authorise_purchase(
        actor, line_id, amount, merchant=body.merchant, idempotency_key=key
    )
    return PurchasePublic.of(purchase)


@router.get("/purchases/{purchase_id}", response_model=PurchasePublic)
def get_purchase(purchase_id: str, platform: PlatformDep, actor: PrincipalDep) -> PurchasePublic:
    return PurchasePublic.of(platform.lending.purchase(actor, purchase_id))


@router.post("/purchases/{purchase_id}/capture", response_model=PurchasePublic)
def capture_purchase(
    purchase_id: str,
    body: CaptureCreate,
    platform: PlatformDep,
    actor: PrincipalDep,
    key: IdempotencyKey,
) -> PurchasePublic:
    amount = None if body.amount is None else Money.of(body.amount, body.currency)
    purchase = platform.lending.capture_purchase(
        actor, purchase_id, idempotency_key=key, amount=amount
    )
    return PurchasePublic.of(purchase)


@router.post("/purchases/{purchase_id}/refunds", response_model=PurchasePublic)
def refund_purchase(
    purchase_id: str,
    body: AmountCreate,
    platform: PlatformDep,
    actor: PrincipalDep,
    key: IdempotencyKey,
) -> PurchasePublic:
    amount = Money.of(body.amount, body.currency)
    return PurchasePublic.of(
        platform.lending.refund(actor, purchase_id, amount, idempotency_key=key)
    )


@router.post("/lines/{line_id}/cash", response_model=LinePublic, status_code=201)
def borrow_cash(
    line_id: str,
    body: AmountCreate,
    platform: PlatformDep,
    actor: PrincipalDep,
    key: IdempotencyKey,
) -> LinePublic:
    amount = Money.of(body.amount, body.currency)
    return LinePublic.of(platform.lending.borrow_cash(actor, line_id, amount, idempotency_key=key))


@router.post("/lines/{line_id}/repayments", response_model=LinePublic, status_code=201)
def repay(
    line_id: str,
    body: RepaymentCreate,
    platform: PlatformDep,
    actor: PrincipalDep,
    key: IdempotencyKey,
) -> LinePublic:
    amount = Money.of(body.amount, body.currency)
    line = platform.lending.repay(
        actor, line_id, amount, idempotency_key=key, from_account_id=body.from_account_id
    )
    return LinePublic.of(line)


@router.get("/lines/{line_id}/statements", response_model=list[StatementPublic])
def list_statements(
    line_id: str, platform: PlatformDep, actor: PrincipalDep
) -> list[StatementPublic]:
    return [StatementPublic.of(s) for s in platform.lending.statements(actor, line_id)]


@router.get("/statements/{statement_id}", response_model=StatementPublic)
def get_statement(statement_id: str, platform: PlatformDep, actor: PrincipalDep) -> StatementPublic:
    return StatementPublic.of(platform.lending.statement(actor, statement_id))


@router.get("/statements/{statement_id}/reconciliation", response_model=ReconciliationPublic)
def reconcile_statement(
    statement_id: str, platform: PlatformDep, actor: PrincipalDep
) -> ReconciliationPublic:
    return ReconciliationPublic.of(platform.lending.reconcile(actor, statement_id))


@router.post(
    "/instalments/quotes", response_model=InstalmentPlanPublic,
    summary="The schedule and fee a conversion would make (nothing is converted)",
)  # fmt: skip
def quote_instalments(
    body: InstalmentCreate, platform: PlatformDep, actor: PrincipalDep
) -> InstalmentPlanPublic:
    plan = platform.lending.instalments.quote(actor, body.source, body.source_id, body.periods)
    return InstalmentPlanPublic.of(plan)


@router.post(
    "/instalments", response_model=InstalmentPlanPublic, status_code=201,
    summary="Convert a purchase or a statement into 3/6/9/12 periods (once per source)",
)  # fmt: skip
def convert_instalments(
    body: InstalmentCreate, platform: PlatformDep, actor: PrincipalDep
) -> InstalmentPlanPublic:
    plan = platform.lending.instalments.convert(actor, body.source, body.source_id, body.periods)
    return InstalmentPlanPublic.of(plan)


@router.get("/lines/{line_id}/instalments", response_model=list[InstalmentPlanPublic])
def list_instalments(
    line_id: str, platform: PlatformDep, actor: PrincipalDep
) -> list[InstalmentPlanPublic]:
    return [InstalmentPlanPublic.of(p) for p in platform.lending.instalments.plans(actor, line_id)]


@router.get("/instalments/{plan_id}", response_model=InstalmentPlanPublic)
def get_instalments(
    plan_id: str, platform: PlatformDep, actor: PrincipalDep
) -> InstalmentPlanPublic:
    return InstalmentPlanPublic.of(platform.lending.instalments.plan(actor, plan_id))


@router.post(
    "/instalments/{plan_id}/settlement", response_model=InstalmentPlanPublic,
    summary="Settle a plan early from the line's deposit account",
)  # fmt: skip
def settle_instalments(
    plan_id: str, platform: PlatformDep, actor: PrincipalDep, key: IdempotencyKey
) -> InstalmentPlanPublic:
    plan = platform.lending.instalments.settle(actor, plan_id, idempotency_key=key)
    return InstalmentPlanPublic.of(plan)


@router.get("/lines/{line_id}/limit-reviews", response_model=list[LimitReviewPublic])
def list_limit_reviews(
    line_id: str, platform: PlatformDep, actor: PrincipalDep
) -> list[LimitReviewPublic]:
    return [LimitReviewPublic.of(r) for r in platform.lending.reviews.reviews(actor, line_id)]


@router.post(
    "/lines/{line_id}/limit-reviews", response_model=LimitReviewPublic, status_code=201,
    summary="Review the line's limit now (operators; the COB reviews lines periodically)",
)  # fmt: skip
def review_limit(line_id: str, platform: PlatformDep, actor: PrincipalDep) -> LimitReviewPublic:
    return LimitReviewPublic.of(platform.lending.reviews.review(actor, line_id))


@router.get("/cob", response_model=CobStatusPublic, summary="Close-of-business status")
def cob_status(platform: PlatformDep, actor: PrincipalDep) -> CobStatusPublic:
    return CobStatusPublic.of(platform.cob.status(actor))


@router.post("/cob/runs", response_model=CobStatusPublic, summary="Close days up to `until`")
def cob_run(body: CobRun, platform: PlatformDep, actor: PrincipalDep) -> CobStatusPublic:
    # Bounded: a long catch-up belongs to the CLI, not to one HTTP request.
    platform.cob.run(actor, until=body.until, max_days=platform.settings.lending.cob_api_max_days)
    return CobStatusPublic.of(platform.cob.status(actor))
