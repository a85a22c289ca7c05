"""Identity in the console: the customer login page (password, then TOTP) and an operator view
of a customer's identity status. Everything shown is masked; authorisation is the services'.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import RedirectResponse, Response

from finbridge.core.errors import AuthenticationFailed, FinbridgeError, RateLimited
from finbridge.core.principal import PrincipalKind
from finbridge.identity import CustomerStatus, TokenPair
from finbridge.platform import Platform
from finbridge.web.pages.auth import set_session_cookie
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/identity", include_in_schema=False)
NAV = ("Identity", "/console/identity")
NAV_ORDER = 20
ME = "/console/identity/me"


@router.get("/login")
def login_page(request: Request) -> Response:
    return render(request, "identity/login.html", {"error": None, "challenge": None})


def _signed_in(request: Request, platform: Platform, tokens: TokenPair) -> Response:
    signed_in = platform.identity.authenticator.sign_in_customer(tokens.session_id)
    response = Response(status_code=204, headers={"HX-Redirect": ME})
    set_session_cookie(request, response, signed_in.token)
    return response


@router.post("/login")
def login(
    request: Request,
    platform: ConsolePlatformDep,
    phone: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    ids = platform.identity
    try:
        result = ids.login.start(
            phone, password, device=request.headers.get("user-agent", "")[:200]
        )
    except (AuthenticationFailed, RateLimited) as exc:
        return render(
            request,
            "identity/_login_form.html",
            {"error": exc.detail, "challenge": None},
            status_code=401,
        )
    if result.tokens is not None:
        return _signed_in(request, platform, result.tokens)
    return render(
        request,
        "identity/_login_form.html",
        {"error": None, "challenge": result.challenge, "methods": result.methods},
    )


@router.post("/login/totp")
def login_totp(
    request: Request,
    platform: ConsolePlatformDep,
    challenge: Annotated[str, Form(max_length=200)] = "",
    code: Annotated[str, Form(max_length=64)] = "",
    method: Annotated[str, Form(max_length=20)] = "totp",
) -> Response:
    ids = platform.identity
    try:
        tokens = ids.login.complete(challenge, method, code.strip())
    except (AuthenticationFailed, RateLimited) as exc:
        return render(
            request,
            "identity/_login_form.html",
            {"error": exc.detail, "challenge": challenge, "methods": ("totp",)},
            status_code=401,
        )
    return _signed_in(request, platform, tokens)


class PasskeyLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    challenge: str = Field(max_length=200)
    credential: dict[str, Any]


@router.post("/login/passkey")
def login_passkey(request: Request, platform: ConsolePlatformDep, body: PasskeyLogin) -> Response:
    """Second step with a passkey assertion (sent by static/identity/passkey.js)."""
    ids = platform.identity
    tokens = ids.login.complete_passkey(body.challenge, body.credential)
    return _signed_in(request, platform, tokens)


def _context(status: CustomerStatus) -> dict[str, object]:
    return {
        "person": status.person,
        "sessions": status.sessions,
        "consents": status.consents,
        "audit": status.audit,
    }


@router.get("/me")
def me(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    if actor.kind is not PrincipalKind.CUSTOMER or actor.customer_id is None:
        return RedirectResponse("/console/identity", status_code=303)
    status = platform.identity.status.of(actor, actor.customer_id)
    return render(request, "identity/status.html", _context(status))


@router.get("")
def index(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    q: str | None = None,
) -> Response:
    """Operators look a customer up by mobile number or customer id."""
    if actor.kind is PrincipalKind.CUSTOMER:
        return RedirectResponse(ME, status_code=303)
    context: dict[str, object] = {"q": q or "", "error": None}
    if q:
        try:
            context.update(_context(platform.identity.status.look_up(actor, q)))
        except FinbridgeError as exc:
            context["error"] = exc.detail
    return render(request, "identity/index.html", context)
