"""Console page for the feature store: views, owners, last materialisation, freshness, rows.

Through :class:`finbridge.lake.featurestore.FeatureService` with the signed-in principal
(``events:read``); materialising a lake view needs ``events:admin`` (the service checks).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from finbridge.core.errors import FinbridgeError
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/features", include_in_schema=False)


def _page(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    message: str | None = None,
    error: str | None = None,
) -> Response:
    rows = platform.features.status(actor)
    context = {"rows": rows, "message": message, "error": error}
    return render(request, "features/index.html", context)


@router.get("")
def index(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    return _page(request, actor, platform)


@router.post("/materialize")
def materialize(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    view: Annotated[str, Form(max_length=64)],
) -> Response:
    try:
        done = platform.features.materialize(actor, view)
    except FinbridgeError as exc:
        return _page(request, actor, platform, error=str(exc))
    note = f"{done.view} v{done.version}: {done.rows} rows, {done.entities} entities"
    return _page(request, actor, platform, message=note)
