"""Console login with an operator API key, and logout.

The key is checked once, then only a server-side session id travels in the cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from finbridge.api.deps import api_keys
from finbridge.core.errors import AuthenticationFailed
from finbridge.core.principal import Principal
from finbridge.lake import Event, emit
from finbridge.platform import Platform
from finbridge.store.engine import unit_of_work
from finbridge.web.security import ConsolePlatformDep, safe_next
from finbridge.web.sessions import COOKIE_NAME, IDLE_TIMEOUT, sessions_of, start_session
from finbridge.web.templating import render

router = APIRouter(prefix="/console", include_in_schema=False)
NAV = None


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return render(request, "auth/login.html", {"next": safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    platform: ConsolePlatformDep,
    api_key: Annotated[str, Form(max_length=256)] = "",
    next: Annotated[str, Form(max_length=512)] = "/console",
) -> Response:
    key = api_key.strip()
    keys = api_keys(platform)
    try:
        principal = keys.authenticate(key)
    except AuthenticationFailed:
        _record_login(request, platform, None, failure="invalid or revoked API key")
        return render(
            request,
            "auth/_login_form.html",
            {"next": safe_next(next), "error": "That API key is not valid (or was revoked)."},
            status_code=401,
        )

    def reauthenticate() -> Principal:
        return keys.authenticate(key)

    _record_login(request, platform, principal.id)
    token = start_session(platform, principal, reauthenticate)
    response = Response(status_code=204, headers={"HX-Redirect": safe_next(next)})
    set_session_cookie(request, response, token)
    return response


@router.post("/logout")
def logout(request: Request, platform: ConsolePlatformDep) -> Response:
    token = request.cookies.get(COOKIE_NAME)
    if token:
        sessions_of(platform).end(token)
    response = Response(status_code=204, headers={"HX-Redirect": "/console/login"})
    response.delete_cookie(COOKIE_NAME, path="/", samesite="strict", httponly=True)
    return response


def _record_login(
    request: Request, platform: Platform, key_id: str | None, *, failure: str | None = None
) -> None:
    """Every console sign-in attempt becomes a ``login`` event (outbox -> lake)."""
    payload = {
        "method": "api_key",
        "success": failure is None,
        "channel": "web",
        "ip": request.client.host[:45] if request.client else None,
        "user_agent": (request.headers.get("user-agent") or "")[:512] or None,
        "failure_reason": failure,
    }
    event = Event("login", platform.clock.now(), payload, "console", subject_id=key_id)
    with unit_of_work(platform.engine) as session:
        emit(session, event)


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """HttpOnly (no script reads it), SameSite=Strict (no cross-site sends), Secure on HTTPS
    and always in production (where TLS usually ends at a proxy in front of us)."""
    production = request.app.state.platform.settings.env == "production"
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(IDLE_TIMEOUT.total_seconds()) * 16,
        path="/",
        httponly=True,
        samesite="strict",
        secure=production or request.url.scheme == "https",
    )
