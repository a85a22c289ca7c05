"""``/v1/advisory``: questionnaire, profiles, products, suitability, portfolios, plans.

Thin: parse, build values, call one ``platform.advisory`` method with the principal.
Suitability is decided in the service; a check above the customer's level answers 200 with
``allowed: false`` and the warning to show (the caller then confirms with its code).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.api.schemas.advisory import (
    ModelsPublic,
    PlanCreate,
    PlanPublic,
    ProductPublic,
    ProfileCreate,
    ProfilePublic,
    SuitabilityCheckCreate,
    SuitabilityPublic,
)
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
