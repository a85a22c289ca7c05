"""Console pages for the lake's Delta table: the events catalogue and data quality.

Every call goes through :class:`finbridge.lake.EventService` with the signed-in principal:
reading needs ``events:read``, releasing or discarding a quarantined batch ``events:admin``
(the service records who decided, when and why).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from finbridge.core.errors import FinbridgeError
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

catalogue_router = APIRouter(prefix="/console/lake/catalogue", include_in_schema=False)
quality_router = APIRouter(prefix="/console/lake/quality", include_in_schema=False)


@catalogue_router.get("")
def catalogue(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    service = platform.events
    entries = service.catalogue(actor)
    history = service.history(actor, limit=10)
    context = {
        "entries": entries,
        "history": history,
        "stored": sum(1 for e in entries if e.events),
        "total": sum(e.events for e in entries),
        "version": history[0].version if history else None,
    }
    return render(request, "lakehouse/catalogue.html", context)


def _quality_context(platform: ConsolePlatformDep, actor: ConsolePrincipalDep) -> dict[str, object]:
    batches = platform.events.batches(actor, limit=50)
    return {
        "batches": batches,
        "counts": {
            status: sum(1 for b in batches if b.status == status)
            for status in ("passed", "quarantined", "released", "discarded")
        },
        "error": None,
    }


@quality_router.get("")
def quality(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    return render(request, "lakehouse/quality.html", _quality_context(platform, actor))


@quality_router.get("/batches/{batch_id}")
def batch_rows(
    request: Request, batch_id: str, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    rows = platform.events.quarantined_rows(actor, batch_id, limit=50)
    return render(request, "lakehouse/_rows.html", {"rows": rows, "batch_id": batch_id})


@quality_router.post("/batches/{batch_id}/{action}")
def decide(
    request: Request,
    batch_id: str,
    action: str,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    error = None
    try:
        if action == "release":
            platform.events.release(actor, batch_id, note=note)
        elif action == "discard":
            platform.events.discard(actor, batch_id, note=note)
        else:
            error = f"unknown action {action!r}"
    except FinbridgeError as exc:
        error = str(exc)
    context = _quality_context(platform, actor)
    context["error"] = error
    return render(request, "lakehouse/_batches.html", context)
