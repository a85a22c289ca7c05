"""The console's home page: customers, deposits by currency, daily volume, events, rejections.

Every figure comes from a service called with the signed-in principal, so an operator without
a scope sees that panel refused rather than data they may not read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from starlette.responses import Response

from finbridge.core.errors import PermissionDenied
from finbridge.lake import DailyVolume
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)
NAV = ("Overview", "/console")
NAV_ORDER = 0

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Panel:
    """A panel's data, or the reason the signed-in principal may not see it."""

    data: Any = None
    refused: str | None = None


def _panel(fetch: Callable[[], T]) -> Panel:
    try:
        return Panel(fetch())
    except PermissionDenied as exc:
        return Panel(refused=str(exc))


def volume_chart(rows: list[DailyVolume]) -> dict[str, Any]:
    """ECharts option: bars = movements per day, lines = amount per currency (right axis)."""
    days = sorted({r.day.isoformat() for r in rows})
    counts = {d: 0 for d in days}
    totals: dict[str, dict[str, str]] = {}
    for r in rows:
        counts[r.day.isoformat()] += r.movements
        totals.setdefault(r.currency, {})[r.day.isoformat()] = str(r.total)
    series: list[dict[str, Any]] = [
        {"name": "movements", "type": "bar", "data": [counts[d] for d in days]}
    ]
    for cur, by_day in sorted(totals.items()):
        series.append(
            {
                "name": f"amount {cur}",
                "type": "line",
                "yAxisIndex": 1,
                "smooth": True,
                "data": [by_day.get(d, "0") for d in days],
            }
        )
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 50, "right": 70, "top": 36, "bottom": 30},
        "xAxis": {"type": "category", "data": days},
        "yAxis": [{"type": "value", "name": "count"}, {"type": "value", "name": "amount"}],
        "series": series,
        "animation": False,
    }


@router.get("")
def overview(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    banking = platform.banking
    events = platform.events
    volume = _panel(lambda: events.daily_volume(actor))
    context = {
        "customers": _panel(lambda: banking.count_customers(actor)),
        "deposits": _panel(lambda: banking.deposits_by_currency(actor)),
        "volume": volume,
        "volume_chart": volume_chart(volume.data) if volume.data else None,
        "latest": _panel(lambda: events.list_events(actor, limit=12)),
        "pending": _panel(lambda: events.pending(actor)),
        "rejections": _panel(lambda: events.ingestions(actor, limit=10, rejected_only=True)),
    }
    return render(request, "overview/index.html", context)


@router.post("/ledger/verify")
def verify_ledger(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    """Recompute every balance from its postings (HTMX fragment)."""
    report = _panel(lambda: platform.banking.verify_ledger(actor))
    return render(request, "overview/_ledger_report.html", {"report": report})
