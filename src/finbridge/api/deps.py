"""Dependency aliases so route signatures stay short: ``PlatformDep``, ``PrincipalDep``.

Authentication happens here once, through identity's authenticator; authorisation happens in
the services, which receive the ``Principal``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from finbridge.api.ratelimit import limit_by_ip, limit_by_principal
from finbridge.core.errors import AuthenticationFailed, PermissionDenied
from finbridge.core.inputs import check_integer_text, check_json_bytes, check_text
from finbridge.core.principal import Principal
from finbridge.identity import credential_from_headers
from finbridge.platform import Platform

SESSION_COOKIE = "finbridge_session"


async def get_platform(request: Request) -> Platform:
    # async (like every dependency here) so FastAPI runs it inline, not on a worker thread.
    return request.app.state.platform  # type: ignore[no-any-return]


PlatformDep = Annotated[Platform, Depends(get_platform)]


def presented_credential(request: Request) -> str:
    """The caller's credential: a header, or the console's HttpOnly session cookie."""
    credential = credential_from_headers(
        request.headers.get("authorization"), request.headers.get("x-api-key")
    )
    if credential is None:
        credential = request.cookies.get(SESSION_COOKIE)
        request.state.cookie_credential = bool(credential)
    if not credential:
        raise AuthenticationFailed("missing credentials: send Authorization: Bearer <key>")
    return credential


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADERS = ("x-requested-with", "hx-request")


def check_csrf(request: Request) -> None:
    """The console's CSRF rule for ``/v1`` calls authenticated by the session cookie: a
    state-changing request must carry a header a cross-site form cannot send (``HX-Request``
    or ``X-Requested-With``; a cross-site script would need a CORS preflight, which this API
    never grants) and, if the browser names an origin, the same origin. Bearer and API-key
    calls are not affected: a browser never attaches those by itself.
    """
    if not any(request.headers.get(h) for h in CSRF_HEADERS):
        raise PermissionDenied(
            "a state-changing call with the session cookie needs the X-Requested-With header"
            " (or send Authorization: Bearer)",
            field="X-Requested-With",
        )
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        raise PermissionDenied("cross-origin request refused", field="Origin")


# Declared for the OpenAPI document (its "Authorize" button); the values are read in
# ``presented_credential`` so the console's cookie works the same way.
_BEARER = HTTPBearer(auto_error=False, description="an operator API key or a customer token")
_API_KEY = APIKeyHeader(name="X-API-Key", auto_error=False, description="an operator API key")


async def get_principal(
    request: Request,
    platform: PlatformDep,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
    _key: Annotated[str | None, Security(_API_KEY)] = None,
) -> Principal:
    credential = presented_credential(request)
    authenticator = platform.identity.authenticator
    # A key verified moments ago answers from memory, on the event loop; anything else may
    # read the database, off the loop.
    principal = authenticator.cached(credential)
    if principal is None:
        principal = await run_in_threadpool(authenticator.authenticate, credential)
    # After authentication, so a forged cookie is a 401 like any bad credential.
    if request.method not in SAFE_METHODS and getattr(request.state, "cookie_credential", False):
        check_csrf(request)
    limit_by_principal(request, principal)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def guard_request(request: Request) -> None:
    """What every ``/v1`` route runs first: the per-IP rate limits, then the input rule."""
    limit_by_ip(request)
    await refuse_bad_input(request)


async def refuse_bad_input(request: Request) -> None:
    """The platform's input rule (``finbridge.core.inputs``) on every ``/v1`` request, before
    any other dependency: path and query values, and JSON bodies; each refusal names a field.

    Listed on every router in ``create_app``, so no route can forget it. JSON bodies are read
    once (Starlette caches them for the route) and only parsed again when a raw scan finds a
    suspicious escape, byte or number.
    """
    for name, value in request.path_params.items():
        if isinstance(value, str):
            check_text(value, name)
            check_integer_text(value, name)
    for name, value in request.query_params.multi_items():
        check_text(name, name)
        check_text(value, name)
        check_integer_text(value, name)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and _is_json(request):
        check_json_bytes(await request.body())


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind == "application/json" or kind.endswith("+json")
