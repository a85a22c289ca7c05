"""Invest: the customer's risk profile (the questionnaire in their language), holdings, and a
goal plan with its fan chart. Suitability and every rule stay in the advisory service; this
page only collects answers and shows results."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from finbridge.advisory import GoalPlan, Profile
from finbridge.app.i18n import N_
from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, customer_id, gettext, render
from finbridge.core.errors import FinbridgeError, NotFound, ValidationError
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.platform import Platform

router = APIRouter(prefix="/app/advisory", include_in_schema=False)
CURRENCY = "USD"  # the fund universe is USD
_LABELS = {"p5": N_("5th percentile"), "p50": N_("Median"),
           "band": N_("5th to 95th percentile")}  # fmt: skip


def _profile(platform: Platform, actor: Principal) -> Profile | None:
    try:
        return platform.advisory.profile(actor, customer_id(actor))
    except NotFound:
        return None


def _fan(plan: GoalPlan, labels: dict[str, str]) -> dict[str, Any]:
    """ECharts option: the 5-95 band stacked on the 5th percentile, the median as a line."""
    low = [str(v) for v in plan.p5]
    band = [str(h - lo) for h, lo in zip(plan.p95, plan.p5, strict=True)]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "xAxis": {"type": "category", "data": [str(m) for m in plan.months_shown]},
        "yAxis": {"type": "value", "scale": True},
        "series": [
            {
                "name": labels["p5"],
                "type": "line",
                "data": low,
                "stack": "fan",
                "showSymbol": False,
                "lineStyle": {"opacity": 0.4},
            },
            {
                "name": labels["band"],
                "type": "line",
                "data": band,
                "stack": "fan",
                "showSymbol": False,
                "areaStyle": {"opacity": 0.25},
                "lineStyle": {"opacity": 0},
            },
            {
                "name": labels["p50"],
                "type": "line",
                "showSymbol": False,
                "data": [str(v) for v in plan.p50],
            },
        ],
    }


def _page(
    request: Request, platform: Platform, actor: Principal, *, plan: GoalPlan | None = None,
    error: FinbridgeError | None = None, form: dict[str, str] | None = None, status: int = 200,
) -> Response:  # fmt: skip
    profile = _profile(platform, actor)
    holdings = platform.advisory.holdings(actor, customer_id(actor)) if profile else []
    context: dict[str, Any] = {
        "profile": profile, "holdings": holdings, "plan": plan, "error": error,
        "form": form or {"target": "", "target_date": "", "initial": "", "monthly": ""},
        "currency": CURRENCY,
    }  # fmt: skip
    if plan is not None:
        context["plan_pct"] = f"{plan.probability:.0%}"
        labels = {key: gettext(request, text) for key, text in _LABELS.items()}
        context["fan"] = _fan(plan, labels)
    return render(request, "advisory/index.html", context, status_code=status)


@router.get("")
def index(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    return _page(request, platform, actor)


@router.post("/plan")
async def plan(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    data = await request.form()
    form = {k: str(data.get(k, "")).strip() for k in ("target", "target_date", "initial",
                                                      "monthly")}  # fmt: skip
    try:
        try:
            target_date = dt.date.fromisoformat(form["target_date"])
        except ValueError:
            raise ValidationError("a date such as 2040-01-31", field="target_date") from None
        made = platform.advisory.plan(
            actor, customer_id(actor), target=Money.of(form["target"] or "0", CURRENCY),
            target_date=target_date, initial=Money.of(form["initial"] or "0", CURRENCY),
            monthly=Money.of(form["monthly"] or "0", CURRENCY),
        )  # fmt: skip
    except FinbridgeError as exc:
        return _page(request, platform, actor, error=exc, form=form, status=422)
    return _page(request, platform, actor, plan=made, form=form)


@router.get("/questionnaire")
def questionnaire(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    return render(
        request, "advisory/questionnaire.html",
        {"q": platform.advisory.questionnaire(), "answers": {}, "error": None},
    )  # fmt: skip


@router.post("/questionnaire")
async def answer(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    q = platform.advisory.questionnaire()
    data = await request.form()
    answers: dict[str, Any] = {}
    for question in q.questions:
        value = str(data.get(question.id, "")).strip()
        if not value:
            continue  # the service names the first unanswered question
        answers[question.id] = (
            int(value) if question.kind == "number" and value.isdigit() else value
        )
    try:
        platform.advisory.submit_profile(actor, customer_id(actor), answers, version=q.version)
    except FinbridgeError as exc:
        return render(
            request, "advisory/questionnaire.html", {"q": q, "answers": answers, "error": exc},
            status_code=422,
        )  # fmt: skip
    return RedirectResponse("/app/advisory", status_code=303)
