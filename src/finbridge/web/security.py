"""Console authentication (redirect to login) and the CSRF/headers guard for /console."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from finbridge.core.errors import AuthenticationFailed
from finbridge.core.principal import Principal
from finbridge.identity import credential_from_headers
from finbridge.platform import Platform
from finbridge.web.sessions import COOKIE_NAME


def get_platform(request: Request) -> Platform:
    return request.app.state.platform  # type: ignore[no-any-return]


ConsolePlatformDep = Annotated[Platform, Depends(get_platform)]

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# No inline scripts and no eval: charts read their options from data attributes.
# Inline styles stay allowed because ECharts and htmx set element styles.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)


class LoginRequired(Exception):
    """Raised by console pages for anonymous visitors; answered with a redirect to login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def console_principal(request: Request, platform: ConsolePlatformDep) -> Principal:
    credential = credential_from_headers(
        request.headers.get("authorization"), request.headers.get("x-api-key")
    ) or request.cookies.get(COOKIE_NAME)
    try:
        if not credential:
            raise AuthenticationFailed("no console session")
        principal = platform.identity.authenticate(credential)
    except AuthenticationFailed:
        raise LoginRequired(request.url.path) from None
    request.state.principal = principal
    return principal


ConsolePrincipalDep = Annotated[Principal, Depends(console_principal)]


def safe_next(value: str | None) -> str:
    """Only same-site console paths are valid post-login targets (no open redirect)."""
    if not value:
        return "/console"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console"):
        return "/console"
    if parts.path.startswith("/console/login"):
        return "/console"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    target = f"/console/login?next={quote(safe_next(exc.next_path))}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


class ConsoleGuard(BaseHTTPMiddleware):
    """CSRF defence and security headers for everything under /console.

    State-changing requests must come from HTMX (custom ``HX-Request`` header, which a foreign
    page cannot send without a CORS preflight we never grant) and, when the browser says where
    they come from, from our own origin. The session cookie is SameSite=Strict on top.
    """

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The API never pays for this middleware's per-request task and stream machinery.
        if scope["type"] != "http" or not scope["path"].startswith("/console"):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method in _UNSAFE:
            if request.headers.get("hx-request") != "true":
                return PlainTextResponse("console forms must be sent by htmx", status_code=403)
            origin = request.headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
                return PlainTextResponse("cross-origin request refused", status_code=403)
        response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not request.url.path.startswith("/console/static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
