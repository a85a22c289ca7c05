"""Attach the console to an app: static files, the listed pages, auth and the guard."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from finbridge.core.errors import FinbridgeError, ValidationError, http_status
from finbridge.web.pages import (
    acquisition,
    advisory,
    auth,
    banking,
    credit,
    developers,
    features,
    identity,
    lake,
    lakehouse,
    lending,
    lending_simulation,
    monitoring,
    openbanking,
    overview,
    payments,
    privacy,
    quant,
    risk,
)
from finbridge.web.security import ConsoleGuard, LoginRequired, login_redirect
from finbridge.web.templating import NavEntry, render

STATIC_DIR = Path(__file__).parent / "static"
# Vendored htmx and ECharts (see vendor/PROVENANCE.md); the customer app serves them too.
VENDOR_DIR = STATIC_DIR / "vendor"


# Every console page, in menu order: (router, menu label or None for pages outside the menu).
PAGES: tuple[tuple[APIRouter, NavEntry | None], ...] = (
    (auth.router, None),
    (overview.router, NavEntry("Overview", "/console", 0)),
    (banking.router, NavEntry("Customers", "/console/banking", 10)),
    (banking.approvals_router, NavEntry("Approvals", "/console/approvals", 11)),
    (lake.router, NavEntry("Events", "/console/lake", 20)),
    (lakehouse.catalogue_router, NavEntry("Event catalogue", "/console/lake/catalogue", 21)),
    (lakehouse.quality_router, NavEntry("Data quality", "/console/lake/quality", 22)),
    (features.router, NavEntry("Features", "/console/features", 23)),
    (identity.router, NavEntry("Identity", "/console/identity", 30)),
    (credit.router, NavEntry("Credit", "/console/credit", 40)),
    (risk.router, NavEntry("Risk", "/console/risk", 50)),
    (monitoring.router, NavEntry("Monitoring", "/console/monitoring", 52)),
    (payments.router, NavEntry("Payments", "/console/payments", 60)),
    (quant.router, NavEntry("Quant", "/console/quant", 70)),
    (advisory.router, NavEntry("Advisory", "/console/advisory", 75)),
    (acquisition.router, NavEntry("Acquisition", "/console/acquisition", 80)),
    (lending.router, NavEntry("Lending", "/console/lending", 90)),
    (lending_simulation.router, None),  # a panel on the lending dashboard
    (openbanking.router, NavEntry("Open banking", "/console/openbanking", 95)),
    (developers.router, NavEntry("Developers", "/console/developers", 96)),
    (privacy.router, NavEntry("Privacy", "/console/privacy", 97)),
)


def mount(app: FastAPI) -> None:
    """Mount ``/console`` on ``app`` (whose ``state.platform`` the pages use)."""
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    for router, _entry in PAGES:
        app.include_router(router)
    app.state.console_nav = [entry for _router, entry in PAGES if entry is not None]
    app.add_middleware(ConsoleGuard)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(request, exc)

    # Errors raised by console pages render as HTML (a page, or a fragment for HTMX);
    # everywhere else they stay problem+json through the API's handlers.
    fallbacks: dict[type[Exception], Any] = {
        cls: app.exception_handlers.get(cls) for cls in (FinbridgeError, RequestValidationError)
    }

    async def _console_error(request: Request, exc: Exception) -> Response:
        key = RequestValidationError if isinstance(exc, RequestValidationError) else FinbridgeError
        fallback = fallbacks[key]
        if not request.url.path.startswith("/console") and fallback is not None:
            response = fallback(request, exc)
            return await response if inspect.isawaitable(response) else response
        error = exc if isinstance(exc, FinbridgeError) else _as_validation_error(exc)
        fragment = request.headers.get("hx-request") == "true"
        return render(
            request,
            "_error_fragment.html" if fragment else "_error.html",
            {"error": error},
            status_code=http_status(error),
        )

    app.add_exception_handler(FinbridgeError, _console_error)
    app.add_exception_handler(RequestValidationError, _console_error)


def _as_validation_error(exc: Exception) -> ValidationError:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    if not errors:
        return ValidationError("invalid input")
    first = errors[0]
    field = ".".join(str(p) for p in first["loc"][1:]) or None
    return ValidationError(str(first["msg"]).removeprefix("Value error, "), field=field)
