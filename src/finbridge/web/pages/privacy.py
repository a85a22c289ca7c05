"""Privacy requests in the console: the queue of customers' correction and deletion requests
(made in the customer app) and closing one with what was done. Authorisation is identity's
(``customers:write`` for the queue and for closing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from finbridge.core.errors import FinbridgeError
from finbridge.identity import RETENTION_NOTE
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/privacy", include_in_schema=False)


@router.get("")
def queue(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    requests = platform.identity.privacy.open_requests(actor)
    context = {"requests": requests, "retention": RETENTION_NOTE, "closed": None}
    return render(request, "privacy/index.html", context)


@router.post("/{request_id}/close")
def close(
    request: Request,
    request_id: str,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    outcome: Annotated[str, Form(max_length=16)] = "",
    resolution: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        closed = platform.identity.privacy.close(actor, request_id, outcome, resolution)
    except FinbridgeError as exc:
        context = {"error": exc, "r": None, "request_id": request_id}
        return render(request, "privacy/_row.html", context, status_code=422)
    return render(
        request, "privacy/_row.html", {"error": None, "r": closed, "request_id": closed.id}
    )
