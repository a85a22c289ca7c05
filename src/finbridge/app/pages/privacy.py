"""Privacy (PIPL): consents with their purpose and a withdraw button, download all my data,
and correction / deletion requests recorded for an operator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from finbridge.app.export import build_zip
from finbridge.app.i18n import N_
from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, customer_id, render
from finbridge.core.errors import FinbridgeError, http_status
from finbridge.core.principal import Principal
from finbridge.identity import RETENTION_NOTE
from finbridge.platform import Platform

router = APIRouter(prefix="/app/privacy", include_in_schema=False)
HOME = "/app/privacy"

# What each purpose means, in words a customer reads (msgids; unknown purposes show their name).
PURPOSES: dict[str, str] = {
    "biometric_face": N_("Face recognition to sign in and confirm actions"),
    "marketing": N_("Personalised offers from finbridge and its partners"),
    "credit_scoring": N_("Credit scoring with data from our partners"),
}
KIND_NAMES = (N_("correction"), N_("deletion"))
STATUS_NAMES = (N_("open"), N_("done"), N_("refused"), N_("partly_done"))


def _page(
    request: Request,
    platform: Platform,
    actor: Principal,
    *,
    error: FinbridgeError | None = None,
    sent: bool = False,
    status_code: int = 200,
) -> Response:
    me = customer_id(actor)
    ids = platform.identity
    context = {
        "consents": ids.consents.list(actor, me),
        "purposes": PURPOSES,
        "requests": ids.privacy.list(actor, me),
        "retention": RETENTION_NOTE,
        "error": error,
        "sent": sent,
    }
    return render(request, "privacy/index.html", context, status_code=status_code)


@router.get("")
def privacy(
    request: Request, actor: AppPrincipalDep, platform: AppPlatformDep, sent: bool = False
) -> Response:
    return _page(request, platform, actor, sent=sent)


@router.post("/consents/{consent_id}/withdraw")
def withdraw(consent_id: str, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    platform.identity.consents.withdraw(actor, customer_id(actor), consent_id)
    return RedirectResponse(HOME, status_code=303)


@router.post("/export")
def export(actor: AppPrincipalDep, platform: AppPlatformDep, request: Request) -> Response:
    archive, _files = build_zip(platform, actor, request.app.state.app_data_exports)
    stamp = platform.clock.now().strftime("%Y%m%d")
    return Response(
        archive,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="finbridge-my-data-{stamp}.zip"'},
    )


@router.post("/requests")
def submit_request(
    request: Request,
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    kind: Annotated[str, Form(max_length=16)] = "",
    detail: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        platform.identity.privacy.submit(actor, customer_id(actor), kind, detail)
    except FinbridgeError as exc:
        return _page(request, platform, actor, error=exc, status_code=http_status(exc))
    return RedirectResponse(f"{HOME}?sent=true", status_code=303)
