"""Console: payments. FX positions and the reference-rate chart, merchants (list and
onboarding), payment search. Everything goes through ``platform.payments``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from finbridge.core.errors import FinbridgeError
from finbridge.core.principal import Principal
from finbridge.platform import Platform
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/payments", include_in_schema=False)

PAIRS = ("USD/CNY", "EUR/CNY", "HKD/CNY", "GBP/CNY", "JPY/CNY", "EUR/USD")
Text = Annotated[str, Form(max_length=140)]


def _rate_chart(platform: Platform, pair: str, days: int) -> dict[str, Any]:
    base, quote = pair.split("/")
    history = platform.payments.fx.rate_history(base, quote, days)
    return {
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [r.as_of.isoformat() for r in history]},
        "yAxis": {"type": "value", "scale": True},
        "series": [{"type": "line", "name": pair, "showSymbol": False,
                    "data": [str(r.rate) for r in history]}],
    }  # fmt: skip


def _merchants(platform: Platform, actor: Principal) -> list[dict[str, Any]]:
    return [
        {"id": m.id, "name": m.name, "mcc": m.mcc, "currency": m.currency,
         "fee_rate": f"{m.fee_rate * 100:.3f}%", "status": m.status,
         "account": m.settlement_account_id, "created_at": m.created_at}
        for m in platform.payments.merchants.list(actor, limit=100)
    ]  # fmt: skip


@router.get("", response_class=HTMLResponse)
def index(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    pair: Annotated[str, Query()] = "USD/CNY",
    days: Annotated[int, Query(ge=7, le=3660)] = 180,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    merchant_id: Annotated[str | None, Query(max_length=64)] = None,
    kind: Annotated[str | None, Query(pattern=r"^(merchant|p2p)?$")] = None,
) -> Response:
    pair = pair if pair in PAIRS else "USD/CNY"
    desk = platform.payments
    payments = desk.payments.search(
        actor, customer_id=customer_id or None, merchant_id=merchant_id or None,
        kind=kind or None, limit=100,
    )  # fmt: skip
    context = {
        "positions": desk.fx.positions(actor),
        "pair": pair,
        "pairs": PAIRS,
        "days": days,
        "rate_chart": _rate_chart(platform, pair, days),
        "last_rate_date": desk.rates.last_date(),
        "merchants": _merchants(platform, actor),
        "payments": payments,
        "crossborder": desk.crossborder.queue(actor, limit=50),
        "filters": {"customer_id": customer_id or "", "merchant_id": merchant_id or "",
                    "kind": kind or ""},
    }  # fmt: skip
    return render(request, "payments/index.html", context)


@router.post("/merchants", response_class=HTMLResponse)
def onboard(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    name: Text,
    mcc: Annotated[str, Form(max_length=4)],
    settlement_account_id: Annotated[str, Form(max_length=64)],
    fee_rate: Annotated[str, Form(max_length=16)],
) -> Response:
    error: FinbridgeError | None = None
    try:
        platform.payments.merchants.onboard(
            actor, name=name, mcc=mcc, settlement_account_id=settlement_account_id,
            fee_rate=fee_rate,
        )  # fmt: skip
    except FinbridgeError as exc:  # shown beside the form, the list stays
        error = exc
    return render(
        request, "payments/_merchants.html",
        {"merchants": _merchants(platform, actor), "error": error},
    )  # fmt: skip


@router.get("/crossborder/{transfer_id}", response_class=HTMLResponse)
def crossborder(
    request: Request, transfer_id: str, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    desk = platform.payments.crossborder
    transfer = desk.get(actor, transfer_id)
    return render(
        request, "payments/crossborder.html",
        {"t": transfer, "xml": desk.message(actor, transfer_id)},
    )  # fmt: skip


@router.post("/crossborder/{transfer_id}/screening", response_class=HTMLResponse)
def screening(
    request: Request,
    transfer_id: str,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    decision: Annotated[str, Form(pattern=r"^(release|block)$")],
    note: Text = "",
) -> Response:
    desk = platform.payments.crossborder
    t = desk.decide_screening(actor, transfer_id, release=decision == "release", note=note)
    return render(request, "payments/_status.html", {"t": t})
