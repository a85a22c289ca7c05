"""The FastAPI application factory. No import-time state: everything hangs off ``create_app``.

Routers are discovered: every module in ``finbridge.api.routes`` that defines ``router`` is
mounted under ``/v1``; the console (``finbridge.web``) is mounted at ``/console`` when present.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

import finbridge
from finbridge.api import routes
from finbridge.api.problems import install_problem_handlers, problem
from finbridge.core.settings import Settings
from finbridge.platform import Platform


class BodySizeLimit(BaseHTTPMiddleware):
    """Refuse oversized bodies up front (by Content-Length) before anything reads them."""

    def __init__(self, app: object, max_bytes: int) -> None:
        super().__init__(app)  # type: ignore[arg-type]
        self.max_bytes = max_bytes

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return problem(
                413,
                "Payload too large",
                f"request body of {length} bytes exceeds the limit of {self.max_bytes} bytes",
                code="payload_too_large",
                request=request,
            )
        return await call_next(request)


def create_app(settings: Settings | None = None, *, platform: Platform | None = None) -> FastAPI:
    settings = settings or (platform.settings if platform else Settings())
    owns_platform = platform is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_platform:
            app.state.platform.close()

    app = FastAPI(
        title="finbridge",
        version=finbridge.__version__,
        description="Open smart-finance platform: banking spine, identity, credit, risk, "
        "advisory, quant, acquisition and open banking.",
        lifespan=lifespan,
    )
    app.state.platform = platform or Platform.build(settings)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_upload_bytes)
    install_problem_handlers(app)
    _mount_health(app)
    for module_info in sorted(pkgutil.iter_modules(routes.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{routes.__name__}.{module_info.name}")
        router = getattr(module, "router", None)
        if router is not None:
            app.include_router(router, prefix="/v1")
    _mount_console(app)
    return app


def _mount_health(app: FastAPI) -> None:
    @app.get("/health", tags=["ops"], summary="Liveness: the process is up")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": finbridge.__version__}

    @app.get("/ready", tags=["ops"], summary="Readiness: the database answers")
    def ready(request: Request) -> JSONResponse:
        platform: Platform = request.app.state.platform
        try:
            with platform.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # readiness must report, never raise
            return JSONResponse(
                {"status": "unavailable", "database": type(exc).__name__}, status_code=503
            )
        return JSONResponse({"status": "ready", "database": platform.engine.dialect.name})


def _mount_console(app: FastAPI) -> None:
    try:
        web = importlib.import_module("finbridge.web")
    except ModuleNotFoundError as exc:
        if exc.name != "finbridge.web":
            raise
        return
    web.mount(app)
