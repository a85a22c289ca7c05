"""Face sign-in with liveness (the second step after the password) and face enrolment.

The browser films the customer with ``getUserMedia`` (``static/face.js``) while the page walks
through the head turns identity drew, and sends the frames here; identity's face service checks
every frame is the enrolled face and that the turns follow the challenge (a still photo makes
none). Enrolment is a plain multipart form on the security page (``capture="user"`` opens the
front camera on phones) and needs the biometric consent and a fresh second factor; the template
is sealed in identity's PII vault.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import JSONResponse, RedirectResponse, Response

from finbridge.app.i18n import N_
from finbridge.app.pages.security import security_page
from finbridge.app.security import (
    AppPlatformDep,
    AppPrincipalDep,
    customer_id,
    safe_next,
    set_session_cookie,
)
from finbridge.app.templating import gettext, render
from finbridge.core.errors import (
    AuthenticationFailed,
    PayloadTooLarge,
    RateLimited,
    StepUpRequired,
    ValidationError,
)
from finbridge.identity import ConsentRequired, LivenessFailed

router = APIRouter(prefix="/app", include_in_schema=False)

MAX_FRAME_BYTES = 2 * 1024 * 1024  # a 480 px JPEG is ~40 kB; a phone photo fits in 8 MB below
MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_FRAMES = 20
STEP_MS = 1200  # how long the page shows each instruction while it films

STEP_LABELS = {
    "center": N_("Look straight at the camera"),
    "turn_left": N_("Turn your head to your left"),
    "turn_right": N_("Turn your head to your right"),
}
_FAILED = {
    "mismatch": N_("This face does not match the one set up for this account."),
    "not_live": N_(
        "We could not see you make the head movements asked for. Photos and recordings are "
        "not accepted: follow each instruction in front of the camera."
    ),
    "replay": N_("These pictures were sent before. Please try again with the camera."),
}
_NO_FACE = N_(
    "We could not see exactly one face in every picture. Face the camera in good light and "
    "try again."
)
_EXPIRED = N_("This sign-in step has expired. Please start again.")
_LOCKED = N_("Too many attempts. Please wait a moment and try again.")
_TOO_LARGE = N_("A picture is too large.")
_NO_CONSENT = N_("Face sign-in needs your consent to process your face.")
_STEP_UP = N_(
    "To set up face sign-in, confirm it is you with the code from your authenticator app."
)
_BAD_CODE = N_("That code is not right, or it has expired. Try the newest code.")
_PHOTO_REFUSED = N_(
    "We could not use that photo: it must show exactly one face, clearly, as JPEG, PNG or WebP."
)
_PHOTO_TOO_LARGE = N_("The photo is too large (at most 8 MB).")


def _read(upload: UploadFile, limit: int) -> bytes:
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge("image too large", field="frames")
    return data


@router.post("/login/face")
def face_page(
    request: Request,
    platform: AppPlatformDep,
    challenge: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=512)] = "/app",
) -> Response:
    """The filming page for a pending sign-in: a fresh liveness challenge every visit."""
    return _filming_page(request, platform, challenge, next)


def _filming_page(
    request: Request,
    platform: AppPlatformDep,
    challenge: str,
    next: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    try:
        drawn = platform.identity.login.face_challenge(challenge)
    except (AuthenticationFailed, ConsentRequired):
        expired = {"next": safe_next(next), "error": gettext(request, _EXPIRED),
                   "challenge": None, "phone": "", "methods": ()}  # fmt: skip
        return render(request, "auth/login.html", expired, status_code=401)
    context: dict[str, Any] = {
        "challenge": challenge,
        "liveness_id": drawn.id,
        "steps": drawn.steps,
        "labels": STEP_LABELS,
        "step_ms": STEP_MS,
        "next": safe_next(next),
        "error": error,
    }
    return render(request, "auth/face.html", context, status_code=status_code)


@router.post("/login/face/verify")
def face_verify(
    request: Request,
    platform: AppPlatformDep,
    challenge: Annotated[str, Form(max_length=200)],
    liveness_id: Annotated[str, Form(max_length=64)],
    frames: Annotated[list[UploadFile], File()],
    next: Annotated[str, Form(max_length=512)] = "/app",
    photos: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """Frames from static/face.js, answered with ``{"next": ...}`` or ``{"error": ...}`` (in
    the customer's language) and the status code of the refusal; or, from the page's form
    without JavaScript (``photos=1``: one photo per instruction, taken in order), a redirect
    on success and the page again, with a new challenge and the reason, on a refusal. The
    same liveness check judges both: photos of the turns are frames like any other."""

    def refuse(message: str, status: int) -> Response:
        if photos:
            text = gettext(request, message)
            return _filming_page(request, platform, challenge, next, error=text, status_code=status)
        return JSONResponse({"error": gettext(request, message)}, status_code=status)

    if len(frames) > MAX_FRAMES:
        return refuse(_NO_FACE, 422)
    try:
        images = [_read(f, MAX_FRAME_BYTES) for f in frames]
        tokens = platform.identity.login.complete_face(challenge, liveness_id, images)
    except LivenessFailed as exc:
        return refuse(_FAILED.get(exc.kind, _FAILED["not_live"]), 401)
    except PayloadTooLarge:
        return refuse(_TOO_LARGE, 413)
    except ValidationError:
        return refuse(_NO_FACE, 422)
    except RateLimited:
        return refuse(_LOCKED, 429)
    except AuthenticationFailed:
        return refuse(_EXPIRED, 401)
    signed_in = platform.identity.authenticator.sign_in_customer(tokens.session_id)
    response: Response = (
        RedirectResponse(safe_next(next), status_code=303)
        if photos
        else JSONResponse({"next": safe_next(next)})
    )
    set_session_cookie(request, response, signed_in.token)
    return response


@router.post("/security/face")
def face_enrol(
    request: Request,
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    photo: Annotated[UploadFile, File()],
    consent: Annotated[str, Form(max_length=10)] = "",
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Enrol (or replace) the customer's face from one photo: consent given on the form, a
    fresh second factor (the TOTP code on the form, or a recent step-up), one clear face."""
    ids, me = platform.identity, customer_id(actor)

    def again(message: str, status: int) -> Response:
        face_error = gettext(request, message)
        return security_page(request, platform, actor, face_error=face_error, status_code=status)

    if consent == "yes" and not ids.consents.has_consent(me, "biometric_face"):
        ids.consents.grant(actor, me, "biometric_face", ["face_template"])
    if code.strip():
        try:
            ids.step_up.with_totp(actor, code.strip())
        except AuthenticationFailed:
            return again(_BAD_CODE, 401)
    try:
        ids.face.enrol(actor, _read(photo, MAX_PHOTO_BYTES))
    except ConsentRequired:
        return again(_NO_CONSENT, 403)
    except StepUpRequired:
        return again(_STEP_UP, 403)
    except PayloadTooLarge:
        return again(_PHOTO_TOO_LARGE, 413)
    except ValidationError:
        return again(_PHOTO_REFUSED, 422)
    return RedirectResponse("/app/security?face=enrolled", status_code=303)
