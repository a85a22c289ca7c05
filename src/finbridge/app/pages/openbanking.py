"""Open banking in the customer app: the consent screen an app's authorisation request lands
on (the app, the exact permissions, the accounts the customer picks, the expiry; a second
factor for payment consents), and "Connected apps", where every grant is seen and revoked
(one by one or all at once), beside the app store of approved apps."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from finbridge.app.i18n import N_
from finbridge.app.kit import (
    AppPlatformDep,
    AppPrincipalDep,
    HomeCard,
    customer_id,
    gettext,
    render,
)
from finbridge.banking import AccountStatus
from finbridge.core.errors import AuthenticationFailed, RateLimited, StepUpRequired
from finbridge.core.principal import Principal
from finbridge.openbanking import (
    LOGO_HEADERS,
    ConsentKind,
    ConsentStatus,
    PendingAuthorisation,
)
from finbridge.platform import Platform

router = APIRouter(prefix="/app/openbanking", include_in_schema=False)

_STEP_UP = N_("Authorising payments needs the code from your authenticator app.")
_BAD_CODE = N_("That code did not work. Try the newest code.")
_PERMISSION_WORDS = (
    N_("See your account details"),
    N_("See your balances"),
    N_("See your transactions"),
    N_("Make payments"),
)
_PERMISSIONS = {
    "accounts": _PERMISSION_WORDS[0],
    "balances": _PERMISSION_WORDS[1],
    "transactions": _PERMISSION_WORDS[2],
    "payments": _PERMISSION_WORDS[3],
}


def _own_open_accounts(platform: Platform, actor: Principal) -> list[Any]:
    page = platform.banking.list_accounts(actor, customer_id=customer_id(actor), limit=100)
    return [a for a in page.items if a.status is AccountStatus.OPEN]


def _screen(
    request: Request,
    platform: Platform,
    actor: Principal,
    pending: PendingAuthorisation,
    *,
    step_up: bool = False,
    error: str | None = None,
    chosen: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    consent = pending.consent
    accounts = _own_open_accounts(platform, actor)
    money = consent.amount or consent.max_total
    if money is not None:  # a payment comes from an account in its currency
        accounts = [a for a in accounts if a.currency == money.code]
    context = {
        "pending": pending,
        "consent": consent,
        "is_payment": consent.kind is not ConsentKind.ACCOUNT_ACCESS,
        "permissions": [_PERMISSIONS[p] for p in consent.permissions],
        "accounts": accounts,
        "chosen": chosen or [],
        "step_up": step_up,
        "message": gettext(request, _STEP_UP) if step_up else None,
        "error": error,
    }
    return render(request, "openbanking/authorize.html", context, status_code=status_code)


@router.get("/authorize/{request_id}")
def consent_screen(
    request: Request, request_id: str, actor: AppPrincipalDep, platform: AppPlatformDep
) -> Response:
    pending = platform.openbanking.server.pending(actor, request_id)
    return _screen(request, platform, actor, pending)


@router.post("/authorize/{request_id}")
def decide(
    request: Request,
    request_id: str,
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    decision: Annotated[str, Form(max_length=10)] = "",
    account_ids: Annotated[list[str] | None, Form(max_length=40)] = None,
    code: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    server = platform.openbanking.server
    pending = server.pending(actor, request_id)
    if decision != "approve":
        return _back_to_app(request, pending, server.reject(actor, request_id))
    chosen = list(account_ids or [])
    if code.strip():
        try:
            platform.identity.step_up.with_totp(actor, code.strip())
        except (AuthenticationFailed, RateLimited):
            error = gettext(request, _BAD_CODE)
            return _screen(
                request,
                platform,
                actor,
                pending,
                step_up=True,
                error=error,
                chosen=chosen,
                status_code=401,
            )
    own = {a.id: a.currency for a in _own_open_accounts(platform, actor)}
    try:
        target = server.approve(actor, request_id, chosen, banking_accounts=own)
    except StepUpRequired:
        return _screen(
            request, platform, actor, pending, step_up=True, chosen=chosen, status_code=403
        )
    return _back_to_app(request, pending, target)


def _back_to_app(request: Request, pending: PendingAuthorisation, target: str) -> Response:
    """To the app's registered redirect URI (code or error, state, iss per RFC 9207) by a page
    rather than a 303: the app's CSP (form-action 'self') rightly stops a form's redirect to
    another origin, and a meta refresh is a plain navigation."""
    context = {"target": target, "app_name": pending.app.name}
    return render(request, "openbanking/return.html", context)


@router.get("")
def connected_apps(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    ob = platform.openbanking
    consents = [c for c in ob.server.consents(actor) if c.status is ConsentStatus.AUTHORISED]
    apps = {a.client_id: a for a in ob.apps.list(actor)}
    context = {
        "grants": [
            (c, apps.get(c.client_id), [_PERMISSIONS[p] for p in c.permissions]) for c in consents
        ],
        "store": sorted(apps.values(), key=lambda a: (a.category, a.name)),
    }
    return render(request, "openbanking/index.html", context)


@router.get("/apps/{client_id}/logo")
def app_logo(client_id: str, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    """An app's logo from our own origin (the store and the consent screen show it): the PNG
    open banking re-drew from the upload; an app the customer may not see is a 404."""
    png, _ = platform.openbanking.apps.logo(actor, client_id)
    return Response(png, headers=LOGO_HEADERS)


@router.get("/connect/{client_id}")
def connect(client_id: str, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    """The store's Connect: off to the app's login initiation URI (a plain navigation, so the
    CSP's form-action does not apply); the app pushes its request and comes back here."""
    return RedirectResponse(platform.openbanking.connect(actor, client_id), status_code=303)


@router.post("/consents/{consent_id}/revoke")
def revoke(consent_id: str, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    platform.openbanking.server.revoke_consent(actor, consent_id)
    return RedirectResponse("/app/openbanking", status_code=303)


@router.post("/revoke-all")
def revoke_all(actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    platform.openbanking.server.revoke_all(actor)
    return RedirectResponse("/app/openbanking", status_code=303)


def card(platform: Platform, principal: Principal) -> Mapping[str, Any] | None:
    """The home tile: how many apps can use the customer's accounts (none: no tile)."""
    live = [
        c
        for c in platform.openbanking.server.consents(principal)
        if c.status is ConsentStatus.AUTHORISED
    ]
    return {"apps": len({c.client_id for c in live})} if live else None


CARD = HomeCard("openbanking", "openbanking/_card.html", card, order=60)
