"""Console: the credit-line portfolio, a line with its statements and utilisation, the COB."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from finbridge.core.errors import FinbridgeError
from finbridge.core.principal import Principal
from finbridge.lending import Line, Portfolio
from finbridge.platform import Platform
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/lending", include_in_schema=False)

BUCKETS = ("current", "M1", "M2", "M3", "M4", "M5", "M6+")


def _bucket_chart(p: Portfolio) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": list(BUCKETS)},
        "yAxis": [{"type": "value", "name": "lines"}, {"type": "value", "name": p.currency}],
        "series": [
            {"name": "lines", "type": "bar", "data": [p.by_bucket.get(b, 0) for b in BUCKETS]},
            {
                "name": "owed",
                "type": "line",
                "yAxisIndex": 1,
                "data": [
                    str(p.owed_by_bucket[b].amount) if b in p.owed_by_bucket else "0"
                    for b in BUCKETS
                ],
            },
        ],
    }


def _line_row(x: Line) -> dict[str, Any]:
    return {
        "id": x.id, "customer": x.customer_id[:8], "limit": x.limit, "owed": x.owed,
        "utilisation": f"{x.utilisation:.0%}", "dpd": x.dpd, "bucket": x.bucket,
        "status": x.status, "next": x.next_statement_date,
    }  # fmt: skip


@router.get("", response_class=HTMLResponse)
def index(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    lending = platform.lending
    p = lending.portfolio(actor)
    lines = [_line_row(x) for x in lending.lines(actor, limit=100)]
    return render(
        request,
        "lending/index.html",
        {
            "p": p,
            "lines": lines,
            "bucket_chart": _bucket_chart(p),
            "products": lending.products(actor),
        },
    )


@router.get("/lines/{line_id}", response_class=HTMLResponse)
def line(
    line_id: str, request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    return render(request, "lending/line.html", _line_context(platform, actor, line_id))


def _line_context(platform: Platform, actor: Principal, line_id: str) -> dict[str, Any]:
    lending = platform.lending
    x = lending.line(actor, line_id)
    history = lending.owed_history(actor, line_id)
    chart = {
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [d.isoformat() for d, _ in history]},
        "yAxis": {"type": "value", "name": x.currency},
        "series": [
            {"name": "owed", "type": "line", "step": "end",
             "data": [str(m.amount) for _, m in history]},
            {"name": "limit", "type": "line",
             "data": [str(x.limit.amount) for _ in history]},
        ],
    }  # fmt: skip
    return {
        "line": x,
        "statements": lending.statements(actor, line_id),
        "owed_chart": chart,
        "plans": lending.instalments.plans(actor, line_id),
        "reviews": lending.reviews.reviews(actor, line_id),
    }


@router.post("/lines/{line_id}/review", response_class=HTMLResponse)
def review(
    line_id: str, request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    """Review the line's limit now (the close of business does it every 90 days); the panel
    comes back with the new record, or with why it could not be done."""
    reviews = platform.lending.reviews
    error = None
    try:
        reviews.review(actor, line_id)
    except FinbridgeError as exc:
        error = exc.detail
    context = {
        "line": platform.lending.line(actor, line_id),
        "reviews": reviews.reviews(actor, line_id),
        "review_error": error,
    }
    return render(request, "lending/_reviews.html", context)


@router.get("/statements/{statement_id}/reconciliation", response_class=HTMLResponse)
def reconciliation(
    statement_id: str, request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    rec = platform.lending.reconcile(actor, statement_id)
    return render(request, "lending/_reconciliation.html", {"rec": rec})


@router.get("/cob", response_class=HTMLResponse)
def cob(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    return render(request, "lending/cob.html", {"st": platform.cob.status(actor, recent=14)})


@router.post("/cob/run", response_class=HTMLResponse)
def cob_run(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    closed = platform.cob.run(actor)
    st = platform.cob.status(actor, recent=14)
    return render(request, "lending/_cob_days.html", {"st": st, "closed": closed})
