"""Attach the console to an API app: static files, discovered pages, auth and the guard."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from finbridge.api.problems import status_for
from finbridge.core.errors import FinbridgeError, ValidationError
from finbridge.web import pages
from finbridge.web.security import ConsoleGuard, LoginRequired, login_redirect
from finbridge.web.sessions import sessions_of
from finbridge.web.templating import NavEntry, render

STATIC_DIR = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Mount ``/console``: called by :func:`finbridge.api.create_app`."""
    sessions_of(app.state.platform)
    app.mount("/console/static", StaticFiles(directory=STATIC_DIR), name="console-static")
    nav: list[NavEntry] = []
    for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{pages.__name__}.{info.name}")
        router = getattr(module, "router", None)
        if router is None:
            continue
        app.include_router(router)
        entry = getattr(module, "NAV", None)
        if entry is not None:
            label, href = entry
            nav.append(NavEntry(label, href, int(getattr(module, "NAV_ORDER", 100))))
    app.state.console_nav = sorted(nav, key=lambda n: (n.order, n.label))
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
            status_code=status_for(error),
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
