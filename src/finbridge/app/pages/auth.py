"""Sign-in (password, then the TOTP code), sign-out and the language switch.

Plain forms that work without JavaScript: each answer is a page or a 303 redirect.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, RedirectResponse, Response

from finbridge.api.ratelimit import client_ip
from finbridge.app.i18n import LOCALE_COOKIE, N_, pick_locale
from finbridge.app.security import (
    SESSION_COOKIE,
    AppPlatformDep,
    AppPrincipalDep,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
)
from finbridge.app.templating import gettext, render
from finbridge.core.errors import AuthenticationFailed, FinbridgeError, RateLimited
from finbridge.identity import TokenPair
from finbridge.platform import Platform

router = APIRouter(prefix="/app", include_in_schema=False)

_SIGN_IN_FAILED = N_("That mobile number and password do not match.")
_CODE_FAILED = N_("That code is not right, or it has expired. Try the newest code.")
_LOCKED = N_("Too many attempts. Please wait a moment and try again.")


def device_of(request: Request) -> str:
    return request.headers.get("user-agent", "")[:200]


def _login_page(
    request: Request,
    *,
    next_path: str,
    error: str | None = None,
    challenge: str | None = None,
    phone: str = "",
    methods: tuple[str, ...] = ("totp",),
    status_code: int = 200,
) -> Response:
    context = {
        "next": next_path,
        "error": error,
        "challenge": challenge,
        "phone": phone,
        "methods": methods,
    }
    return render(request, "auth/login.html", context, status_code=status_code)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next_path=safe_next(next))


def signed_in_response(
    request: Request, platform: Platform, tokens: TokenPair, next_path: str
) -> Response:
    signed_in = platform.identity.authenticator.sign_in_customer(tokens.session_id)
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_session_cookie(request, response, signed_in.token)
    return response


@router.post("/login")
def login(
    request: Request,
    platform: AppPlatformDep,
    phone: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=512)] = "/app",
) -> Response:
    try:
        # The client address keys the lockout (mobile number + IP, as the API does), so someone
        # guessing from one address never locks the real customer out of the app.
        result = platform.identity.login.start(
            phone.strip(), password, device=device_of(request), client=client_ip(request)
        )
    except RateLimited:
        return _login_page(
            request, next_path=next, error=gettext(request, _LOCKED), phone=phone, status_code=429
        )
    except AuthenticationFailed:
        error = gettext(request, _SIGN_IN_FAILED)
        return _login_page(request, next_path=next, error=error, phone=phone, status_code=401)
    if result.tokens is not None:
        return signed_in_response(request, platform, result.tokens, next)
    return _login_page(request, next_path=next, challenge=result.challenge, methods=result.methods)


@router.post("/login/code")
def login_code(
    request: Request,
    platform: AppPlatformDep,
    challenge: Annotated[str, Form(max_length=200)] = "",
    code: Annotated[str, Form(max_length=64)] = "",
    next: Annotated[str, Form(max_length=512)] = "/app",
) -> Response:
    method = "totp" if code.strip().isdigit() else "recovery_code"
    try:
        tokens = platform.identity.login.complete(challenge, method, code.strip())
    except RateLimited:
        return _login_page(
            request, next_path=next, error=gettext(request, _LOCKED), status_code=429
        )
    except AuthenticationFailed:
        # The challenge stays usable for a few more attempts; an expired one starts over.
        return _login_page(
            request,
            next_path=next,
            error=gettext(request, _CODE_FAILED),
            challenge=challenge,
            status_code=401,
        )
    return signed_in_response(request, platform, tokens, next)


class PasskeyOptionsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge: str = Field(max_length=200)


class PasskeyLoginBody(PasskeyOptionsBody):
    credential: dict[str, Any]
    next: str = Field(default="/app", max_length=512)


@router.post("/login/passkey/options")
def passkey_options(platform: AppPlatformDep, body: PasskeyOptionsBody) -> dict[str, Any]:
    """WebAuthn request options for the pending login (sent by static/passkey.js)."""
    return platform.identity.login.passkey_options(body.challenge)


@router.post("/login/passkey")
def login_passkey(request: Request, platform: AppPlatformDep, body: PasskeyLoginBody) -> Response:
    """The second step with a passkey assertion; answers where to go next."""
    tokens = platform.identity.login.complete_passkey(body.challenge, body.credential)
    signed_in = platform.identity.authenticator.sign_in_customer(tokens.session_id)
    response = JSONResponse({"next": safe_next(body.next)})
    set_session_cookie(request, response, signed_in.token)
    return response


@router.post("/logout")
def logout(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    """Ends the server session and the identity session behind it (its tokens die too)."""
    token = request.cookies.get(SESSION_COOKIE)
    with suppress(FinbridgeError):  # already ended elsewhere: the app session still goes
        platform.identity.sessions.logout(actor)
    if token:
        platform.identity.authenticator.sign_out(token)
    response = RedirectResponse("/app/login", status_code=303)
    clear_session_cookie(request, response)
    return response


@router.post("/lang")
def switch_language(
    request: Request,
    lang: Annotated[str, Form(max_length=10)] = "",
    next: Annotated[str, Form(max_length=512)] = "/app",
) -> Response:
    target = next if next.startswith(("/app/login", "/app/signup")) else safe_next(next)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        LOCALE_COOKIE,
        pick_locale(lang),
        max_age=365 * 24 * 3600,
        path="/app",
        samesite="strict",
        httponly=True,
        secure=request.url.scheme == "https",
    )
    return response
