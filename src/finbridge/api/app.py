"""The FastAPI application factory. No import-time state: everything hangs off ``create_app``.

Routers are listed in :data:`ROUTERS`, one line each, mounted under ``/v1``. This is the API
alone; ``finbridge.site`` mounts the console beside it for serving.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import finbridge
from finbridge.api.deps import guard_request, refuse_bad_input
from finbridge.api.openapi import install_openapi
from finbridge.api.problems import install_problem_handlers, problem
from finbridge.api.routes import (
    acquisition,
    advisory,
    banking,
    credit,
    events,
    identity,
    lending,
    monitoring,
    openbanking,
    payments,
    quant,
    risk,
)
from finbridge.core.ratelimit import RateLimiter
from finbridge.core.settings import Settings
from finbridge.platform import Platform

log = logging.getLogger(__name__)

# Every router of the API, in OpenAPI order.
ROUTERS: tuple[APIRouter, ...] = (
    banking.router,
    identity.router,
    events.router,
    credit.router,
    risk.router,
    quant.router,
    advisory.router,
    payments.router,
    lending.router,
    acquisition.router,
    openbanking.router,
    monitoring.router,
)

# Routers outside /v1: paths fixed by their standards (OAuth discovery and the authorisation
# server's published endpoints, the open-banking APIs' own /open-banking/v1 version).
ROOT_ROUTERS: tuple[APIRouter, ...] = (openbanking.oauth_router, openbanking.open_router)


class BodySizeLimit:
    """Refuse oversized bodies: up front by Content-Length, and while streaming for chunked
    bodies that declare none (the read fails with 413 once the limit is passed).

    A plain ASGI middleware, not ``BaseHTTPMiddleware``: that one wraps every request in extra
    tasks and streams, which cost more than a whole risk decision.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = _content_length(scope)
        if length is not None and length > self.max_bytes:
            await _too_large(scope, receive, send, self.max_bytes, length)
            return
        if length is not None:
            await self.app(scope, receive, send)
            return
        seen = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request" and not refused:
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Answer 413 ourselves and tell the app the client went away, so whatever
                    # it makes of the cut-off body is never sent.
                    refused = True
                    await _too_large(scope, receive, send, self.max_bytes, None)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counting_receive, guarded_send)


class StrictTransportSecurity:
    """``Strict-Transport-Security`` on every answer served over TLS (API, console, app).

    Only when the request itself came over HTTPS (``scope["scheme"]``, which uvicorn sets from
    the TLS socket or, behind a trusted proxy, from ``X-Forwarded-Proto``): a plain-HTTP
    development server must not pin browsers to HTTPS for its host.
    """

    HEADER = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.HEADER]
            await send(message)

        await self.app(scope, receive, with_hsts)


async def _too_large(
    scope: Scope, receive: Receive, send: Send, limit: int, length: int | None
) -> None:
    size = f"of {length} bytes " if length is not None else ""
    response = problem(
        413,
        "Payload too large",
        f"request body {size}exceeds the limit of {limit} bytes",
        code="payload_too_large",
    )
    await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


def create_app(settings: Settings | None = None, *, platform: Platform | None = None) -> FastAPI:
    """The API on ``platform`` (or on a platform built from ``settings``, closed at shutdown)."""
    owns_platform = platform is None
    platform = platform or Platform.build(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owns_platform:
            app.state.platform.close()

    docs = platform.settings.api_docs  # off in production unless FINBRIDGE_API__DOCS=true
    app = FastAPI(
        title="finbridge",
        version=finbridge.__version__,
        description="Open smart-finance platform: banking spine, identity, credit, risk, "
        "advisory, quant, acquisition and open banking.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.platform = platform
    settings = platform.settings
    app.state.rate_limiter = RateLimiter(settings.rate_limits, settings.redis_url)
    app.add_middleware(BodySizeLimit, max_bytes=platform.settings.api.max_upload_bytes)
    app.add_middleware(StrictTransportSecurity)
    install_problem_handlers(app)
    _mount_health(app)
    for router in ROUTERS:
        # Rate limits and the input rule run first on every route (api/deps.py).
        app.include_router(router, prefix="/v1", dependencies=[Depends(guard_request)])
    for router in ROOT_ROUTERS:
        app.include_router(router, dependencies=[Depends(refuse_bad_input)])
    install_openapi(app)
    return app


def _mount_health(app: FastAPI) -> None:
    @app.get("/health", tags=["ops"], summary="Liveness: the process is up")
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": finbridge.__version__}

    @app.get("/ready", tags=["ops"], summary="Readiness: the database answers")
    def ready(request: Request) -> JSONResponse:
        platform: Platform = request.app.state.platform
        try:
            with platform.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # readiness must report, never raise
            log.warning("readiness: the database does not answer (%s)", type(exc).__name__)
            return JSONResponse({"status": "unavailable"}, status_code=503)
        # No dialect, driver or version: nothing that helps an attacker pick an exploit.
        return JSONResponse({"status": "ready"})
