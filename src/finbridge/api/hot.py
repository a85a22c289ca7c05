"""Hot paths: the few endpoints called thousands of times a second, answered without the
framework's routing, dependency resolution and exception-middleware layers.

Measured on the risk decision endpoint (py-spy, 2-core box): those layers cost ~0.45 ms of the
~1.3 ms of CPU a decision took through FastAPI, more than the velocity features, rules and model
together. A hot path keeps the route's contract exactly: the same handler function, the same
body checks and the same problem documents (``problem_for``). It only serves callers whose
API key was verified moments ago (``VerifiedKeys``); anything else (a first request, a cookie,
a customer token, a bad key) falls through to the ordinary FastAPI route, which stays the
documented one in the OpenAPI schema.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from finbridge.api.deps import KEY_PREFIX, api_keys, credential_from_headers
from finbridge.api.problems import problem_for
from finbridge.core.errors import FinbridgeError, PayloadTooLarge, ValidationError
from finbridge.core.principal import Principal
from finbridge.platform import Platform

# (platform, caller, parsed JSON object) -> the JSON answer
HotHandler = Callable[[Platform, Principal, dict[str, Any]], Awaitable[dict[str, Any]]]


def json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or a 422 naming what is wrong."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ValidationError(f"the body is not valid JSON: {exc}", field="body") from None
    if not isinstance(data, dict):
        raise ValidationError("the body must be a JSON object", field="body")
    return data


class HotPaths:
    def __init__(self, app: ASGIApp, routes: Mapping[tuple[str, str], HotHandler]) -> None:
        self.app = app
        self.routes = dict(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        handler = (
            self.routes.get((scope["method"], scope["path"])) if scope["type"] == "http" else None
        )
        if handler is None:
            await self.app(scope, receive, send)
            return
        platform: Platform = scope["app"].state.platform
        principal = _recently_verified(platform, scope)
        if principal is None:
            await self.app(scope, receive, send)  # the full route authenticates and answers
            return
        response: Response
        try:
            body = await _read_body(receive, platform.settings.max_upload_bytes)
            response = JSONResponse(await handler(platform, principal, json_object(body)))
        except FinbridgeError as exc:
            response = problem_for(exc, scope["path"])
        await response(scope, receive, send)


def _recently_verified(platform: Platform, scope: Scope) -> Principal | None:
    headers = Headers(scope=scope)
    credential = credential_from_headers(headers.get("authorization"), headers.get("x-api-key"))
    if not credential or not credential.startswith(f"{KEY_PREFIX}_"):
        return None
    return api_keys(platform).cached(credential)


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ValidationError("the client went away before sending the body", field="body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes", field="body")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
