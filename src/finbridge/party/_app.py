"""The ASGI app of a party: routes to :class:`PartyEndpoint`, JSON replies, error statuses."""

from __future__ import annotations

import json
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from finbridge.core.errors import FinbridgeError, PayloadTooLarge, ValidationError, http_status
from finbridge.credit import MAX_FRAME, PartyEndpoint

# Set by the server's TLS layer for each connection (the ASGI TLS extension's field name).
TLS_EXTENSION = "tls"


def caller_of(request: Request) -> str | None:
    """The role named by the client certificate's common name (verified by the TLS layer)."""
    tls = request.scope.get("extensions", {}).get(TLS_EXTENSION) or {}
    name = tls.get("client_cert_name") or ""
    for part in str(name).split(","):
        key, _, value = part.strip().partition("=")
        if key == "CN":
            return value
    return None


async def _body(request: Request) -> bytes:
    length = int(request.headers.get("content-length") or 0)
    if length > MAX_FRAME:
        raise PayloadTooLarge("frame too large", field="body")
    return await request.body()


async def _json(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await _body(request) or b"{}")
    except json.JSONDecodeError as exc:
        raise ValidationError(f"body is not JSON: {exc.msg}", field="body") from None
    if not isinstance(data, dict):
        raise ValidationError("body must be a JSON object", field="body")
    return data


def _error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, FinbridgeError)
    return JSONResponse({"detail": str(exc), "code": exc.code}, status_code=http_status(exc))


def create_party_app(endpoint: PartyEndpoint) -> Starlette:
    """The routes of one party; the blocking work runs in Starlette's thread pool."""

    def health(request: Request) -> JSONResponse:
        return JSONResponse(endpoint.health())

    def job_status(request: Request) -> JSONResponse:
        job_id = request.path_params["job_id"]
        return JSONResponse(endpoint.job_status(caller_of(request), job_id))

    async def mailbox(request: Request) -> JSONResponse:
        p = request.path_params
        endpoint.deliver(caller_of(request), p["job_id"], p["topic"], await _body(request))
        return JSONResponse({}, status_code=202)

    async def progress(request: Request) -> JSONResponse:
        job_id = request.path_params["job_id"]
        endpoint.peer_progress(caller_of(request), job_id, await _json(request))
        return JSONResponse({}, status_code=202)

    async def score(request: Request) -> JSONResponse:
        body, caller = await _json(request), caller_of(request)
        answer = await run_in_threadpool(
            endpoint.score, caller, request.path_params["job_id"], body
        )
        return JSONResponse(answer)

    async def start(request: Request) -> JSONResponse:
        body, caller = await _json(request), caller_of(request)
        # Starting a job tells the other party first (a blocking HTTPS call): off the loop.
        job_id = await run_in_threadpool(endpoint.start, caller, body)
        return JSONResponse({"job_id": job_id}, status_code=202)

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/jobs", start, methods=["POST"]),
        Route("/jobs/{job_id}", job_status, methods=["GET"]),
        Route("/jobs/{job_id}/progress", progress, methods=["POST"]),
        Route("/mailbox/{job_id}/{topic}", mailbox, methods=["POST"]),
        Route("/score/{job_id}", score, methods=["POST"]),
    ]
    return Starlette(routes=routes, exception_handlers={FinbridgeError: _error})
