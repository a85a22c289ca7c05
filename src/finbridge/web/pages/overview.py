"""The console's home page: customers, deposits by currency, daily volume, events, rejections."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)
NAV = ("Overview", "/console")
NAV_ORDER = 0


@router.get("")
def overview(
    request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    return render(request, "overview/index.html", {})
