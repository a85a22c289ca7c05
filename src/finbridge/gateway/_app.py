"""The decision gateway: risk decisions at volume, in a process of their own.

One endpoint does the work, ``POST /v1/risk/decisions``, with the API route's contract exactly
(same request, same decision document, same problem documents) because both call the same
``RiskService.decide_async``. What the gateway leaves out is the framework: at 1,000 decisions/s
on two cores, FastAPI's routing, dependency resolution and exception middleware cost about as much
CPU as the decision itself (measured with py-spy on the former in-API hot path: ~0.45 ms of
~1.3 ms). Here a request is matched by method and path, authenticated by its operator API key
(verified keys answer from the platform's cache, on the loop; others are checked on a worker
thread), counted against its key's rate limit (``rate_limits.gateway_per_key``: in-process, or
in Redis shared by every gateway and API process when ``FINBRIDGE_REDIS_URL`` is set; past it a
429 problem document with ``Retry-After``), and answered by the service.

``GET /health`` is the trivial endpoint the online benchmark compares capacity with; ``GET
/ready`` answers 200 once the platform is warmed (model loaded, decision store and writer
process started) and the database answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text

import finbridge
from finbridge.core.errors import (
    AuthenticationFailed,
    FinbridgeError,
    RateLimited,
    ValidationError,
)
from finbridge.core.principal import Principal
from finbridge.core.ratelimit import RateLimiter
from finbridge.gateway._problems import PROBLEM_JSON, problem_body, problem_of
from finbridge.identity import KEY_PREFIX, credential_from_headers
from finbridge.platform import Platform
from finbridge.risk import json_body

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

DECISIONS = "/v1/risk/decisions"
_ROUTES = {DECISIONS: "POST", "/health": "GET", "/ready": "GET"}  # path -> its one method
JSON = b"application/json"
log = logging.getLogger(__name__)


class DecisionGateway:
    """An ASGI app over ``platform``'s risk face and API keys."""

    def __init__(self, platform: Platform, *, owns_platform: bool = False) -> None:
        self.platform = platform
        self._owns = owns_platform
        self._limit = platform.settings.api.max_upload_bytes
        self._prefix = f"{KEY_PREFIX}_"
        self._ready = False
        settings = platform.settings
        self._limiter = RateLimiter(settings.rate_limits, settings.redis_url)
        # A Redis round trip must not stall the event loop that serves every other decision.
        self._limit_off_loop = settings.redis_url is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(receive, send)
            return
        if kind != "http":
            return
        method, path = scope["method"], scope["path"]
        allowed = _ROUTES.get(path)
        if allowed is None:
            await _problem(send, 404, "Not found", f"no route {method} {path}", "not_found", path)
        elif method != allowed:
            await _problem(
                send, 405, "Method not allowed", f"use {allowed}", "method_not_allowed", path,
                [(b"allow", allowed.encode())],
            )  # fmt: skip
        elif path == DECISIONS:
            await self._decide(scope, receive, send)
        elif path == "/health":
            await _answer(send, 200, {"status": "ok", "version": finbridge.__version__})
        else:
            await self._readiness(send)

    async def _decide(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = _content_length(scope)
        if length is not None and length > self._limit:
            await _too_large(send, self._limit, length)
            return
        try:
            actor = await self._authenticate(scope)
            await self._count(actor)
            body = await _read_body(receive, self._limit)
            if body is None:
                await _too_large(send, self._limit, None)
                return
            data = json_body(body)
            decision = await self.platform.risk.decide_async(actor, data)
        except FinbridgeError as exc:
            status, body = problem_of(exc, DECISIONS)
            await _send(send, status, body, PROBLEM_JSON, _headers_for(exc, status))
            return
        await _answer(send, 200, decision.to_json())

    async def _authenticate(self, scope: Scope) -> Principal:
        credential = _credential(scope)
        if not credential:
            raise AuthenticationFailed("missing credentials: send Authorization: Bearer <key>")
        if not credential.startswith(self._prefix):
            raise AuthenticationFailed("the decision gateway accepts operator API keys only")
        keys = self.platform.api_keys
        principal = keys.cached(credential)  # verified moments ago: from memory, on the loop
        if principal is None:
            principal = await asyncio.to_thread(keys.authenticate, credential)
        return principal

    async def _count(self, actor: Principal) -> None:
        """One decision against the key's budget (raises RateLimited once it is used up)."""
        if self._limit_off_loop:
            await asyncio.to_thread(self._limiter.hit, "gateway_per_key", actor.id)
        else:
            self._limiter.hit("gateway_per_key", actor.id)

    async def _readiness(self, send: Send) -> None:
        try:
            await asyncio.to_thread(self._database_answers)
        except Exception as exc:  # readiness reports, never raises
            log.warning("readiness: the database does not answer (%s)", type(exc).__name__)
            await _answer(send, 503, {"status": "unavailable"})
            return
        if not self._ready:
            await _answer(send, 503, {"status": "starting"})
            return
        # Which database answers is nobody's business outside (no dialect, no version).
        await _answer(send, 200, {"status": "ready"})

    def _database_answers(self) -> None:
        with self.platform.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def warm(self) -> None:
        """Load the model and rule sets, start the decision store and its writer process and
        open the key service, so the first decision after ``/ready`` costs what the second does."""
        _ = self.platform.api_keys
        self.platform.risk.warm()
        self._ready = True

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.to_thread(self.warm)  # the heavy part, off the loop
                    # Again on the loop's own thread (cheap now): the per-thread probe
                    # connection and the loop writer belong to the thread that decides.
                    self.platform.risk.warm()
                except Exception as exc:  # a gateway that cannot decide must not start
                    log.exception("the decision gateway could not start")
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._owns:
                    await asyncio.to_thread(self.platform.close)
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_gateway(platform: Platform, *, owns_platform: bool = False) -> DecisionGateway:
    """The decision gateway on ``platform`` (closed at shutdown if ``owns_platform``)."""
    return DecisionGateway(platform, owns_platform=owns_platform)


def _credential(scope: Scope) -> str | None:
    """The presented credential, by identity's one rule (``X-API-Key``, else Bearer)."""
    authorization = x_api_key = None
    for name, value in scope["headers"]:
        if name == b"x-api-key":
            x_api_key = value.decode("latin-1")
        elif name == b"authorization":
            authorization = value.decode("latin-1")
    return credential_from_headers(authorization, x_api_key)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The body, or None once it passes ``limit`` (a chunked body that declared no length)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ValidationError("the client went away before sending the body", field="body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _too_large(send: Send, limit: int, length: int | None) -> None:
    # Worded as the API's size limit words it, so both answer an oversized body alike.
    size = f"of {length} bytes " if length is not None else ""
    detail = f"request body {size}exceeds the limit of {limit} bytes"
    await _problem(send, 413, "Payload too large", detail, "payload_too_large", None)


def _headers_for(exc: FinbridgeError, status: int) -> list[tuple[bytes, bytes]]:
    """A 401 names its scheme; a 429 says when to come back (as the API's answers do)."""
    if status == 401:
        return [(b"www-authenticate", b"Bearer")]
    if isinstance(exc, RateLimited):
        return [(b"retry-after", str(int(exc.extra.get("retry_after") or 1)).encode())]
    return []


async def _answer(send: Send, status: int, data: dict[str, Any]) -> None:
    # Encoded as Starlette's JSONResponse does, so a document is byte for byte the API's.
    body = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    await _send(send, status, body.encode(), JSON)


async def _problem(
    send: Send,
    status: int,
    title: str,
    detail: str,
    code: str,
    instance: str | None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = problem_body(status, title, detail, code=code, instance=instance)
    await _send(send, status, body, PROBLEM_JSON, extra)


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send(
        {"type": "http.response.start", "status": status, "headers": headers + (extra or [])}
    )
    await send({"type": "http.response.body", "body": body})
