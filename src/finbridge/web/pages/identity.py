"""Identity in the console: the customer login page (password, then TOTP) and an operator view
of a customer's identity status. Everything shown is masked; authorisation is the services'.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import RedirectResponse, Response

from finbridge.api.services import identity_services
from finbridge.core.errors import AuthenticationFailed, FinbridgeError, RateLimited
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity.sessions import TokenPair
from finbridge.platform import Platform
from finbridge.web.pages.auth import set_session_cookie
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.sessions import start_session
from finbridge.web.templating import render

router = APIRouter(prefix="/console/identity", include_in_schema=False)
NAV = ("Identity", "/console/identity")
NAV_ORDER = 20
ME = "/console/identity/me"


@router.get("/login")
def login_page(request: Request) -> Response:
    return render(request, "identity/login.html", {"error": None, "challenge": None})


def _signed_in(request: Request, platform: Platform, tokens: TokenPair) -> Response:
    sessions = identity_services(platform).sessions
    principal = sessions.principal_for(tokens.session_id)

    def reauthenticate() -> Principal:
        # Logout, revoke-all or refresh-token reuse elsewhere ends the console session too.
        return sessions.principal_for(tokens.session_id)

    cookie = start_session(platform, principal, reauthenticate)
    response = Response(status_code=204, headers={"HX-Redirect": ME})
    set_session_cookie(request, response, cookie)
    return response


@router.post("/login")
def login(
    request: Request,
    platform: ConsolePlatformDep,
    phone: Annotated[str, Form(max_length=32)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    ids = identity_services(platform)
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
    ids = identity_services(platform)
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
    ids = identity_services(platform)
    tokens = ids.login.complete_passkey(body.challenge, body.credential)
    return _signed_in(request, platform, tokens)


def _status(platform: Platform, actor: Principal, customer_id: str) -> dict[str, object]:
    ids = identity_services(platform)
    person = ids.persons.view(actor, customer_id)
    sessions = ids.sessions.list(actor, customer_id)
    consents = ids.consents.list(actor, customer_id)
    audit = (
        ids.audit.entries(subject=customer_id, limit=15) if actor.has_scope("audit:read") else []
    )
    return {"person": person, "sessions": sessions, "consents": consents, "audit": audit}


@router.get("/me")
def me(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    if actor.kind is not PrincipalKind.CUSTOMER or actor.customer_id is None:
        return RedirectResponse("/console/identity", status_code=303)
    return render(request, "identity/status.html", _status(platform, actor, actor.customer_id))


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
        ids = identity_services(platform)
        customer_id = ids.persons.find_by_phone(q) or q.strip()
        try:
            context.update(_status(platform, actor, customer_id))
        except FinbridgeError as exc:
            context["error"] = exc.detail
    return render(request, "identity/index.html", context)
