"""``/console/openbanking``: apps awaiting approval (approve or suspend with one click), the
registered apps, a consents search and the authorisation server's audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from finbridge.core.errors import NotFound
from finbridge.openbanking import AppStatus
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/openbanking", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def index(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    customer_id: Annotated[str | None, Query(max_length=36)] = None,
    client_id: Annotated[str | None, Query(max_length=36)] = None,
) -> Response:
    ob = platform.openbanking
    apps = ob.apps.list(actor)
    may_read = actor.has_scope("openbanking:read")  # otherwise the panels say so, not fail
    context = {
        "pending": [a for a in apps if a.status is AppStatus.PENDING],
        "apps": apps,
        "may_read": may_read,
        "consents": ob.server.consents(
            actor, customer_id=customer_id or None, client_id=client_id or None, limit=50
        )
        if may_read
        else [],
        "audit": ob.audit.recent(client_id=client_id or None, limit=50) if may_read else [],
        "deliveries": ob.webhooks.deliveries(actor, client_id=client_id or None, limit=50)
        if may_read
        else [],
        "usage": ob.usage.report(actor, client_id=client_id or None, days=7, limit=200)
        if may_read
        else [],
        "app_names": {a.client_id: a.name for a in apps},
        "customer_id": customer_id or "",
        "client_id": client_id or "",
    }
    return render(request, "openbanking/index.html", context)


@router.post("/apps/{client_id}/{decision}", response_class=HTMLResponse)
def decide(
    request: Request,
    client_id: str,
    decision: str,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
) -> Response:
    status = {"approve": AppStatus.APPROVED, "suspend": AppStatus.SUSPENDED}.get(decision)
    if status is None:
        raise NotFound("no such decision", field="decision")
    app = platform.openbanking.apps.decide(actor, client_id, status)
    return render(request, "openbanking/_app_row.html", {"app": app})


@router.post("/deliveries/{delivery_id}/replay", response_class=HTMLResponse)
def replay(
    request: Request, delivery_id: str, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    delivery = platform.openbanking.webhooks.replay(actor, delivery_id)
    return render(request, "openbanking/_delivery_row.html", {"d": delivery})
