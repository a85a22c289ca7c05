"""Console login with an operator API key, and logout.

The key is checked by identity's authenticator (which records every attempt as a ``login``
event), then only a server-side session id travels in the cookie.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from finbridge.core.errors import AuthenticationFailed
from finbridge.identity import CONSOLE_IDLE_TIMEOUT, ClientInfo
from finbridge.web.security import ConsolePlatformDep, safe_next
from finbridge.web.sessions import COOKIE_NAME
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
    client = ClientInfo(
        ip=request.client.host if request.client else None,
        user_agent=request.headers.get("user-agent"),
    )
    try:
        signed_in = platform.identity.authenticator.sign_in_operator(api_key, client)
    except AuthenticationFailed:
        return render(
            request,
            "auth/_login_form.html",
            {"next": safe_next(next), "error": "That API key is not valid (or was revoked)."},
            status_code=401,
        )
    response = Response(status_code=204, headers={"HX-Redirect": safe_next(next)})
    set_session_cookie(request, response, signed_in.token)
    return response


@router.post("/logout")
def logout(request: Request, platform: ConsolePlatformDep) -> Response:
    token = request.cookies.get(COOKIE_NAME)
    if token:
        platform.identity.authenticator.sign_out(token)
    response = Response(status_code=204, headers={"HX-Redirect": "/console/login"})
    response.delete_cookie(COOKIE_NAME, path="/", samesite="strict", httponly=True)
    return response


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """HttpOnly (no script reads it), SameSite=Strict (no cross-site sends), Secure on HTTPS
    and always in production (where TLS usually ends at a proxy in front of us)."""
    production = request.app.state.platform.settings.env == "production"
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=int(CONSOLE_IDLE_TIMEOUT.total_seconds()) * 16,
        path="/",
        httponly=True,
        samesite="strict",
        secure=production or request.url.scheme == "https",
    )
