"""Console: questionnaire versions, the catalogue with levels, model portfolios with their
out-of-sample charts, and the suitability evidence search."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from finbridge.advisory import Backtest, ModelReport
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/advisory", include_in_schema=False)

_POINTS = 400  # per line: enough for the eye, small enough for the page


def _growth_chart(report: ModelReport) -> dict[str, Any]:
    lines: tuple[Backtest, ...] = (*report.models, *report.benchmarks)
    n = len(lines[0].returns)
    step = max(1, n // _POINTS)
    dates = [d.isoformat() for d in lines[0].dates[::step]]
    series = [
        {
            "name": b.name,
            "type": "line",
            "showSymbol": False,
            "data": [f"{v:.4f}" for v in np.cumprod(1.0 + b.returns)[::step]],
        }
        for b in lines
    ]
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "xAxis": {"type": "category", "data": dates},
        "yAxis": {"type": "value", "scale": True, "name": "growth of 1"},
        "series": series,
    }


def _risk_chart(report: ModelReport) -> dict[str, Any]:
    lines = (*report.models, *report.benchmarks)
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "xAxis": {"type": "category", "data": [b.name for b in lines]},
        "yAxis": {"type": "value", "name": "%"},
        "series": [
            {
                "name": "volatility",
                "type": "bar",
                "data": [f"{b.metrics.annual_volatility * 100:.2f}" for b in lines],
            },
            {
                "name": "max drawdown",
                "type": "bar",
                "data": [f"{b.metrics.max_drawdown * 100:.2f}" for b in lines],
            },
        ],
    }


@router.get("", response_class=HTMLResponse)
def index(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    service = platform.advisory
    versions = service.questionnaire_versions()
    questionnaire = service.questionnaire()
    return render(
        request,
        "advisory/index.html",
        {"versions": versions, "questionnaire": questionnaire, "products": service.products()},
    )


@router.get("/portfolios", response_class=HTMLResponse)
def portfolios(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    """Loaded by HTMX after the page: the first build fits every model (seconds)."""
    report = platform.advisory.model_portfolios(actor)
    return render(
        request,
        "advisory/_portfolios.html",
        {"report": report, "growth": _growth_chart(report), "risk": _risk_chart(report)},
    )


@router.get("/report", response_class=HTMLResponse)
def report(actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    page = platform.advisory.report_html(actor)
    return HTMLResponse(
        page, headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
    )


@router.get("/evidence", response_class=HTMLResponse)
def evidence(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    product_code: Annotated[str | None, Query(max_length=32)] = None,
    outcome: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    found = platform.advisory.evidence(
        actor, customer_id=customer_id or None, product_code=product_code or None,
        outcome=outcome or None, limit=200,
    )  # fmt: skip
    context = {"records": found, "customer_id": customer_id or "",
               "product_code": product_code or "", "outcome": outcome or ""}  # fmt: skip
    fragment = request.headers.get("hx-request") == "true"
    template = "advisory/_evidence.html" if fragment else "advisory/evidence.html"
    return render(request, template, context)
