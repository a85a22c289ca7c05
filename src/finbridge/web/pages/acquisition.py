"""Console: acquisition campaigns (builder with audience size, results with lift and a Qini
chart), creative preview and the customer profile view."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from finbridge.acquisition import CREATIVE_FIELDS, PRODUCTS, CampaignResults, Profile
from finbridge.core.errors import ValidationError
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/acquisition", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def index(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    acq = platform.acquisition
    context = {
        "campaigns": acq.campaigns(actor),
        "creatives": acq.creatives(actor),
        "products": PRODUCTS,
        "fields": CREATIVE_FIELDS,
    }
    return render(request, "acquisition/index.html", context)


@router.post("/audience-size", response_class=HTMLResponse)
def audience_size(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    audience: Annotated[str, Form()] = "",
) -> Response:
    size = platform.acquisition.audience_size(actor, audience)
    return render(request, "acquisition/_size.html", {"size": size})


@router.post("/campaigns", response_class=HTMLResponse)
def create_campaign(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    name: Annotated[str, Form()] = "",
    audience: Annotated[str, Form()] = "",
    creative: Annotated[str, Form()] = "",
    offer_code: Annotated[str, Form()] = "",
    schedule_kind: Annotated[str, Form()] = "send_time",
    at: Annotated[str, Form()] = "",
    holdout_share: Annotated[str, Form()] = "",
) -> Response:
    schedule: dict[str, Any] = {"kind": schedule_kind}
    if schedule_kind == "fixed":
        schedule["at"] = at
    try:
        holdout = float(holdout_share) if holdout_share else None
    except ValueError:
        raise ValidationError("holdout_share must be a number", field="holdout_share") from None
    raw = {
        "name": name, "audience": audience, "creative": creative, "schedule": schedule,
        "offer_code": offer_code or None, "holdout_share": holdout,
    }  # fmt: skip
    campaign = platform.acquisition.create_campaign(actor, raw)
    return render(request, "acquisition/_saved.html", {"campaign": campaign})


@router.post("/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    creative: Annotated[str, Form()] = "",
    locale: Annotated[str, Form()] = "zh-CN",
    customer_id: Annotated[str, Form()] = "",
    offer_code: Annotated[str, Form()] = "",
) -> Response:
    title, body = platform.acquisition.preview(
        actor, creative, locale=locale, customer_id=customer_id or None,
        offer_code=offer_code or None,
    )  # fmt: skip
    return render(request, "acquisition/_preview.html", {"title": title, "body": body})


def _qini_option(results: CampaignResults) -> dict[str, Any]:
    points = results.qini_points
    last = points[-1][1] if points else 0.0
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": ["campaign (by engagement)", "random"]},
        "xAxis": {"type": "value", "name": "share targeted", "min": 0, "max": 1},
        "yAxis": {"type": "value", "name": "incremental conversions / people"},
        "series": [
            {"name": "campaign (by engagement)", "type": "line", "data": [list(p) for p in points]},
            {
                "name": "random",
                "type": "line",
                "data": [[0, 0], [1, last]],
                "lineStyle": {"type": "dashed"},
            },
        ],
    }


@router.get("/campaigns/{campaign_id}", response_class=HTMLResponse)
def results(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep, campaign_id: str
) -> Response:
    res = platform.acquisition.results(actor, campaign_id)
    deliveries = platform.acquisition.deliveries(actor, campaign_id, limit=50)
    context = {"r": res, "qini": _qini_option(res), "deliveries": deliveries}
    return render(request, "acquisition/results.html", context)


def _model_qini_option(manifest: dict[str, Any]) -> dict[str, Any]:
    uplift = manifest["uplift"]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [uplift["chosen"], "random"]},
        "xAxis": {"type": "value", "name": "share targeted", "min": 0, "max": 1},
        "yAxis": {"type": "value", "name": "incremental visits / people"},
        "series": [
            {"name": uplift["chosen"], "type": "line", "data": uplift["qini_points"]},
            {
                "name": "random",
                "type": "line",
                "data": uplift["random_points"],
                "lineStyle": {"type": "dashed"},
            },
        ],
    }


@router.get("/models", response_class=HTMLResponse)
def models(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    """The stored response and uplift models: held-out AUC table, the chosen learner's test
    Qini curve, every version."""
    versions = platform.acquisition.model_versions(actor)
    qini = _model_qini_option(versions[0].manifest) if versions else None
    return render(request, "acquisition/models.html", {"versions": versions, "qini": qini})


def _hours_option(profile: Profile) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "axis"},
        "xAxis": {
            "type": "category",
            "data": [f"{h:02d}" for h in range(24)],
            "name": "local hour",
        },
        "yAxis": {"type": "value", "name": "decayed engagement"},
        "series": [{"type": "bar", "data": profile.engagement_by_hour}],
    }


@router.get("/profile", response_class=HTMLResponse)
def profile(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    customer_id: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    context: dict[str, Any] = {"customer_id": customer_id, "profile": None}
    if customer_id:
        p = platform.acquisition.profile(actor, customer_id)
        context.update(
            profile=p,
            hours=_hours_option(p),
            offers=platform.acquisition.offers(actor, customer_id),
            timezone=platform.acquisition.timezone_of(actor, customer_id),
        )
    return render(request, "acquisition/profile.html", context)
