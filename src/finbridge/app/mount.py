"""Attach the customer app to a site: static files, the listed pages, home cards, the guard.

The two lists below are the whole registry: an engine adds ONE line to ``APP_PAGES`` (its
router and tab entry) and ONE line to ``HOME_CARDS`` (its home tile). See the package docstring.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from finbridge.app.cards import HomeCard
from finbridge.app.export import CORE_EXPORTS, DataExport
from finbridge.app.i18n import N_
from finbridge.app.pages import (
    abroad,
    accounts,
    acquisition,
    advisory,
    auth,
    face,
    fx,
    home,
    lending,
    messages,
    openbanking,
    pay,
    privacy,
    security,
    signup,
    transfers,
)
from finbridge.app.security import (
    AppGuard,
    CsrfRefused,
    SignInRequired,
    require_csrf,
    sign_in_redirect,
)
from finbridge.app.templating import AppNav, gettext, render
from finbridge.core.errors import FinbridgeError, ValidationError, http_status
from finbridge.web import VENDOR_DIR

STATIC_DIR = Path(__file__).parent / "static"

# Every app page: (router, tab entry or None for pages outside the tab bar). The label is an
# English msgid, translated through the app's catalogues (add it to both .po files).
APP_PAGES: tuple[tuple[APIRouter, AppNav | None], ...] = (
    (auth.router, None),
    (face.router, None),
    (signup.router, None),
    (home.router, AppNav(N_("Home"), "/app", 0)),
    (accounts.router, None),
    (transfers.router, AppNav(N_("Transfer"), "/app/transfers", 10)),
    (pay.router, AppNav(N_("Pay"), "/app/pay", 15)),
    (fx.router, AppNav(N_("Exchange"), "/app/fx", 20)),
    (abroad.router, None),  # reached from Exchange
    (lending.router, AppNav(N_("Credit line"), "/app/lending", 30)),
    (advisory.router, AppNav(N_("Invest"), "/app/advisory", 40)),
    (acquisition.router, AppNav(N_("For you"), "/app/acquisition", 50)),
    (openbanking.router, AppNav(N_("Connected apps"), "/app/openbanking", 80)),
    (messages.router, AppNav(N_("Messages"), "/app/messages", 90)),
    (security.router, AppNav(N_("Security"), "/app/security", 95)),
    (privacy.router, AppNav(N_("Privacy"), "/app/privacy", 96)),
)

# Every engine's home tile, shown in ``order`` when its loader returns data.
HOME_CARDS: tuple[HomeCard, ...] = (
    acquisition.CARD,
    lending.CARD,
    messages.CARD,
    openbanking.CARD,
)

# What "download all my data" puts in the ZIP: one folder per service holding customer data.
DATA_EXPORTS: tuple[DataExport, ...] = (*CORE_EXPORTS, acquisition.EXPORT)


def mount(app: FastAPI) -> None:
    """Mount ``/app`` on ``app`` (whose ``state.platform`` the pages use)."""
    first = len(app.router.routes)
    app.mount("/app/static/vendor", StaticFiles(directory=VENDOR_DIR), name="app-vendor")
    app.mount("/app/static", StaticFiles(directory=STATIC_DIR), name="app-static")
    for router, _entry in APP_PAGES:
        # CSRF is checked here, once for every router, so no page can forget it.
        app.include_router(router, dependencies=[Depends(require_csrf)])
    # Matched first: a request walks the routes in order, and the API's and console's routers
    # before ours cost an /app request about as much as its own page (measured: ~250 route
    # checks per request). No path under /app overlaps theirs, so the order changes nothing else.
    ours = app.router.routes[first:]
    del app.router.routes[first:]
    app.router.routes[0:0] = ours
    app.state.app_nav = sorted(
        (entry for _router, entry in APP_PAGES if entry is not None), key=lambda e: e.order
    )
    app.state.app_home_cards = HOME_CARDS
    app.state.app_data_exports = DATA_EXPORTS
    app.add_middleware(AppGuard)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return sign_in_redirect(request, exc)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> Response:
        error = ValidationError(
            gettext(request, N_("This form has expired. Please go back, reload and try again.")),
            field="csrf_token",
        )
        return render(request, "_error.html", {"error": error}, status_code=403)

    # Errors raised by app pages render as an app page in the customer's language; everything
    # else keeps the handlers installed before us (the console's, then the API's).
    fallbacks: dict[type[Exception], Any] = {
        cls: app.exception_handlers.get(cls) for cls in (FinbridgeError, RequestValidationError)
    }

    async def _app_error(request: Request, exc: Exception) -> Response:
        key = RequestValidationError if isinstance(exc, RequestValidationError) else FinbridgeError
        fallback = fallbacks[key]
        path = request.url.path
        if not (path == "/app" or path.startswith("/app/")) and fallback is not None:
            response = fallback(request, exc)
            return await response if inspect.isawaitable(response) else response
        error = exc if isinstance(exc, FinbridgeError) else _as_validation_error(exc)
        return render(request, "_error.html", {"error": error}, status_code=http_status(error))

    app.add_exception_handler(FinbridgeError, _app_error)
    app.add_exception_handler(RequestValidationError, _app_error)


def _as_validation_error(exc: Exception) -> ValidationError:
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    if not errors:
        return ValidationError("invalid input")
    first = errors[0]
    field = ".".join(str(p) for p in first["loc"][1:]) or None
    return ValidationError(str(first["msg"]).removeprefix("Value error, "), field=field)
