"""Attach the console to an API app: static files, discovered pages, auth and the guard."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from finbridge.web import pages
from finbridge.web.security import ConsoleGuard, LoginRequired, login_redirect
from finbridge.web.sessions import sessions_of
from finbridge.web.templating import NavEntry

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
