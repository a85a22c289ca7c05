"""Who is signed in to the app, CSRF on every form, and the app's security headers.

- The session cookie (``finbridge_app``, path ``/app``) holds only an opaque server-side session
  id made by identity's authenticator from the customer's identity session: HttpOnly,
  SameSite=Strict, Secure over TLS (and always in production, behind a TLS proxy). Logout ends
  both the server session and the identity session behind it.
- CSRF: app forms are plain HTML forms (they work without JavaScript), so they carry no HTMX
  header. Every unsafe request under ``/app`` must carry a token, as the hidden form field
  ``csrf_token`` or the ``X-CSRF-Token`` header (HTMX sends it from ``hx-headers`` on
  ``<body>``). The token is an HMAC, under the platform secret, of a random per-browser cookie
  and the session cookie, so it changes at sign-in and a token from another browser or session
  is worthless. A foreign ``Origin`` is refused as well.
- Strict CSP: scripts and styles only from our own origin, no inline script or style.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from finbridge.core.errors import AuthenticationFailed, PermissionDenied
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.platform import Platform

SESSION_COOKIE = "finbridge_app"
CSRF_COOKIE = "finbridge_app_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
APP_PATH = "/app"
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


async def get_platform(request: Request) -> Platform:
    # async: a plain attribute read, not worth a hop to the thread pool on every request
    return request.app.state.platform  # type: ignore[no-any-return]


AppPlatformDep = Annotated[Platform, Depends(get_platform)]


class SignInRequired(Exception):
    """Raised for anonymous visitors of a signed-in page; answered with a redirect."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def app_principal(request: Request, platform: AppPlatformDep) -> Principal:
    """The signed-in customer; anyone else is sent to the sign-in page."""
    token = request.cookies.get(SESSION_COOKIE)
    try:
        if not token:
            raise AuthenticationFailed("no app session")
        principal = platform.identity.authenticate(token)
    except AuthenticationFailed:
        raise SignInRequired(request.url.path) from None
    if principal.kind is not PrincipalKind.CUSTOMER or principal.customer_id is None:
        raise SignInRequired(request.url.path)
    request.state.principal = principal
    return principal


AppPrincipalDep = Annotated[Principal, Depends(app_principal)]


def customer_id(principal: Principal) -> str:
    """The signed-in customer's id (``app_principal`` guarantees there is one)."""
    if principal.customer_id is None:  # pragma: no cover - app_principal refuses these
        raise PermissionDenied("not a customer")
    return principal.customer_id


def safe_next(value: str | None) -> str:
    """Only app paths are valid post-sign-in targets (no open redirect)."""
    if not value:
        return APP_PATH
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not parts.path.startswith(APP_PATH):
        return APP_PATH
    if parts.path.startswith(("/app/login", "/app/logout", "/app/signup", "/app/static")):
        return APP_PATH
    return parts.path + (f"?{parts.query}" if parts.query else "")


def sign_in_redirect(request: Request, exc: SignInRequired) -> Response:
    target = f"/app/login?next={quote(safe_next(exc.next_path))}"
    if request.headers.get("hx-request") == "true":
        return Response(status_code=401, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


def _secret(request: Request) -> bytes:
    platform: Platform = request.app.state.platform
    return platform.settings.secret_key.get_secret_value().encode()


def csrf_token(request: Request) -> str:
    """The token this browser's forms must send back (bound to its cookies)."""
    seed = getattr(request.state, "csrf_seed", None) or request.cookies.get(CSRF_COOKIE, "")
    session = getattr(request.state, "app_session", None) or request.cookies.get(SESSION_COOKIE, "")
    message = f"csrf|{seed}|{session}".encode()
    return hmac.new(_secret(request), message, hashlib.sha256).hexdigest()


async def require_csrf(request: Request) -> None:
    """Dependency on every app router (see :func:`finbridge.app.mount.mount`)."""
    if request.method not in _UNSAFE:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            value = (await request.form()).get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
    if not request.cookies.get(CSRF_COOKIE) or not sent:
        raise CsrfRefused()
    if not hmac.compare_digest(sent, csrf_token(request)):
        raise CsrfRefused()


class CsrfRefused(Exception):
    """The form's token is missing or not this browser's: refused, nothing done."""


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        path=APP_PATH,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, path=APP_PATH, httponly=True, samesite="strict", secure=_secure(request)
    )


def _secure(request: Request) -> bool:
    platform: Platform = request.app.state.platform
    return platform.settings.env == "production" or request.url.scheme == "https"


class AppGuard(BaseHTTPMiddleware):
    """Security headers, the per-browser CSRF cookie and the origin check for ``/app``."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if path != APP_PATH and not path.startswith(APP_PATH + "/"):
            await self.app(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.method in _UNSAFE:
            origin = request.headers.get("origin")
            if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
                return PlainTextResponse("cross-origin request refused", status_code=403)
        static = request.url.path.startswith("/app/static")
        seed = None
        if not static and not request.cookies.get(CSRF_COOKIE):
            seed = secrets.token_urlsafe(32)
            request.state.csrf_seed = seed
        response = await call_next(request)
        if seed is not None:
            response.set_cookie(
                CSRF_COOKIE,
                seed,
                path=APP_PATH,
                httponly=True,
                samesite="strict",
                secure=_secure(request),
            )
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(self), microphone=(), geolocation=()")
        if not static:
            headers.setdefault("Cache-Control", "no-store")
        return response
