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

from finbridge.api.services import banking_service, events_service
from finbridge.core.errors import PermissionDenied
from finbridge.core.principal import Principal
from finbridge.lake import EventService
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)
NAV = ("Overview", "/console")
NAV_ORDER = 0

T = TypeVar("T")

# Per day and currency: how many money movements and their total, from the lake's
# transaction.posted events (opening balances are seeding, not activity, so they are left out).
_DAILY_VOLUME_SQL = """
SELECT date,
       json_extract_string(payload, '$.currency') AS currency,
       count(*) AS n,
       sum(CAST(json_extract_string(payload, '$.amount') AS DECIMAL(38, 4))) AS total
FROM events
WHERE event_type = 'transaction.posted'
  AND json_extract_string(payload, '$.kind') <> 'opening_balance'
GROUP BY 1, 2
ORDER BY 1, 2
"""


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


def daily_volume(events: EventService, actor: Principal) -> list[dict[str, Any]]:
    actor.require_scope("events:read")  # the same scope EventService asks for reading events
    return events.lake.query(_DAILY_VOLUME_SQL)


def volume_chart(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """ECharts option: bars = movements per day, lines = amount per currency (right axis)."""
    days = sorted({str(r["date"]) for r in rows})
    counts = {d: 0 for d in days}
    totals: dict[str, dict[str, str]] = {}
    for r in rows:
        counts[str(r["date"])] += int(r["n"])
        totals.setdefault(r["currency"], {})[str(r["date"])] = str(r["total"])
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
    banking = banking_service(platform)
    events = events_service(platform)
    volume = _panel(lambda: daily_volume(events, actor))
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
    report = _panel(lambda: banking_service(platform).verify_ledger(actor))
    return render(request, "overview/_ledger_report.html", {"report": report})
