"""Security: the authenticator app (TOTP), live sessions with end buttons, recent sign-ins."""

from __future__ import annotations

from typing import Annotated, Any

import segno
from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import RedirectResponse, Response

from finbridge.app.i18n import N_
from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, customer_id, gettext, render
from finbridge.core.errors import AuthenticationFailed
from finbridge.core.principal import Principal
from finbridge.platform import Platform

router = APIRouter(prefix="/app/security", include_in_schema=False)
HOME = "/app/security"
_BAD_CODE = N_("That code is not right, or it has expired. Try the newest code.")


def security_page(
    request: Request,
    platform: Platform,
    actor: Principal,
    *,
    setup: dict[str, str] | None = None,
    recovery_codes: list[str] | None = None,
    error: str | None = None,
    face_error: str | None = None,
    status_code: int = 200,
) -> Response:
    me = customer_id(actor)
    ids = platform.identity
    context = {
        "totp_enrolled": ids.totp.enrolled(actor, me),
        "sessions": ids.sessions.list(actor, me),
        "sign_ins": ids.status.sign_ins(actor, me),
        "passkeys": ids.passkeys.list(actor),
        "face_enrolled": ids.face.enrolled(me),
        "face_consent": ids.consents.has_consent(me, "biometric_face"),
        "setup": setup,
        "recovery_codes": recovery_codes,
        "error": error,
        "face_error": face_error,
        "face_done": request.query_params.get("face") == "enrolled",
    }
    return render(request, "security/index.html", context, status_code=status_code)


@router.get("")
def security(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    return security_page(request, platform, actor)


def _qr(uri: str) -> str:
    """The otpauth URI as an SVG data URI (an <img>, so no inline markup or script)."""
    return str(segno.make(uri, error="m").svg_data_uri(scale=4, border=2))


@router.post("/totp")
def totp_begin(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    started = platform.identity.totp.begin_setup(actor, customer_id(actor))
    setup = {"secret": started.secret, "qr": _qr(started.uri)}
    return security_page(request, platform, actor, setup=setup)


@router.post("/totp/confirm")
def totp_confirm(
    request: Request,
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    try:
        codes = platform.identity.totp.confirm_setup(actor, customer_id(actor), code.strip())
    except AuthenticationFailed:
        # The pending secret stays; the customer tries the next code from the same app.
        error = gettext(request, _BAD_CODE)
        return security_page(request, platform, actor, error=error, status_code=401)
    return security_page(request, platform, actor, recovery_codes=codes)


class PasskeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    credential: dict[str, Any]
    label: str = Field(default="", max_length=120)


@router.post("/passkeys/options")
def passkey_options(actor: AppPrincipalDep, platform: AppPlatformDep) -> dict[str, Any]:
    """WebAuthn creation options for a new passkey (sent by static/passkey.js)."""
    return platform.identity.passkeys.registration_options(actor)


@router.post("/passkeys", status_code=201)
def passkey_register(
    actor: AppPrincipalDep, platform: AppPlatformDep, body: PasskeyBody
) -> dict[str, str]:
    added = platform.identity.passkeys.register(actor, body.credential, body.label)
    return {"credential_id": added.credential_id}


@router.post("/sessions/{session_id}/end")
def end_session(
    request: Request, session_id: str, actor: AppPrincipalDep, platform: AppPlatformDep
) -> Response:
    """End one of the customer's sessions (another's id: 404). Ending this one signs out."""
    platform.identity.sessions.revoke(
        actor, customer_id(actor), session_id, reason="ended by customer"
    )
    if session_id == actor.session_id:
        return RedirectResponse("/app/login", status_code=303)
    return RedirectResponse(HOME, status_code=303)
