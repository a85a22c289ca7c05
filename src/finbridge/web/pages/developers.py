"""``/console/developers``: the developer portal. A developer (a partner key with
``openbanking:write``) registers apps (redirect URIs, public JWKS or a JWKS URI, scopes, category,
description, login initiation URI; a sandbox app is usable at once, others wait for an
operator), uploads their logos, sees its
apps' status, its own sandbox (synthetic customers and accounts, put back as seeded by a
button; an operator sees and resets the sandbox of every developer whose sandbox app is listed),
its API usage and its webhook deliveries with replay (the open-banking page's replay, which lets
a developer replay only its own).
``/console/developers/join`` is public: an organisation applies and is shown a claim code once;
operators approve on the portal; the claim code then fetches the partner key, once. Every
rule is the engine's: the page only reads the form and calls ``platform.openbanking``."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse
from starlette.responses import Response

from finbridge.core.errors import NotFound, ValidationError
from finbridge.core.principal import Principal
from finbridge.openbanking import (
    CATEGORIES,
    LOGO_HEADERS,
    MAX_LOGO_BYTES,
    SCOPES,
    App,
    DeveloperStatus,
    OpenBankingService,
    Sandbox,
)
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/developers", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
def index(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    ob = platform.openbanking
    apps = ob.apps.owned(actor)  # refuses keys without openbanking:write
    context = {
        "apps": apps,
        "categories": CATEGORIES,
        "scopes": SCOPES,
        "usage": ob.usage.report(actor, days=7, limit=200),
        "deliveries": ob.webhooks.deliveries(actor, limit=50),
        "sandboxes": _sandboxes(ob, actor, apps),
        "app_names": {a.client_id: a.name for a in apps},
        "developers": ob.developers.list(actor) if actor.has_scope("openbanking:admin") else [],
    }
    return render(request, "openbanking/developers.html", context)


@router.post("/apps", response_class=HTMLResponse)
def register(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    name: Annotated[str, Form(max_length=100)],
    developer: Annotated[str, Form(max_length=200)],
    redirect_uris: Annotated[str, Form(max_length=5100)],
    scopes: Annotated[list[str], Form()],
    jwks: Annotated[str, Form(max_length=20_000)] = "",
    jwks_uri: Annotated[str, Form(max_length=500)] = "",
    category: Annotated[str, Form(max_length=40)] = "other",
    description: Annotated[str, Form(max_length=2000)] = "",
    initiate_login_uri: Annotated[str, Form(max_length=500)] = "",
    sandbox: Annotated[bool, Form()] = False,
) -> Response:
    app = platform.openbanking.apps.register(
        actor,
        name=name,
        developer=developer,
        redirect_uris=[line.strip() for line in redirect_uris.splitlines() if line.strip()],
        # An empty key set in the textarea (its placeholder) means "keys at the URI instead".
        jwks=None if jwks_uri.strip() and _empty_jwks(jwks) else _json(jwks),
        jwks_uri=jwks_uri.strip() or None,
        scopes=scopes,
        category=category,
        description=description,
        initiate_login_uri=initiate_login_uri.strip() or None,
        sandbox=sandbox,
    )
    return render(request, "openbanking/_dev_app_row.html", {"app": app, "new": True})


@router.post("/apps/{client_id}/logo", response_class=HTMLResponse)
def upload_logo(
    request: Request,
    client_id: str,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    logo: Annotated[UploadFile, File()],
) -> Response:
    apps = platform.openbanking.apps
    error = None
    try:
        app = apps.set_logo(actor, client_id, logo.file.read(MAX_LOGO_BYTES + 1))
    except ValidationError as exc:  # a bad file: the row again, with why (the old logo stays)
        app, error = apps.get_owned(actor, client_id), exc.detail
    return render(request, "openbanking/_dev_app_row.html", {"app": app, "logo_error": error})


@router.get("/apps/{client_id}/logo")
def app_logo(client_id: str, actor: ConsolePrincipalDep, platform: ConsolePlatformDep) -> Response:
    png, _ = platform.openbanking.apps.logo(actor, client_id)
    return Response(png, headers=LOGO_HEADERS)


@router.post("/sandbox/reset", response_class=HTMLResponse)
def reset_sandbox(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    developer: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    ob = platform.openbanking
    box = ob.reset_sandbox(actor, developer or None)
    names = [a.name for a in ob.apps.owned(actor) if a.sandbox and a.owner_id == box.developer]
    return render(request, "openbanking/_sandbox.html", {"panel": _panel(box, names)})


@router.get("/join", response_class=HTMLResponse)
def join_page(request: Request) -> Response:
    return render(request, "openbanking/join.html", {})


@router.post("/join", response_class=HTMLResponse)
def join(
    request: Request,
    platform: ConsolePlatformDep,
    organisation: Annotated[str, Form(max_length=200)],
    website: Annotated[str, Form(max_length=500)],
) -> Response:
    # Anyone may apply: counted against the per-IP registration limit the API's sign-up uses.
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is not None:
        limiter.hit("registration_per_ip", request.client.host if request.client else "unknown")
    developer, code = platform.openbanking.developers.apply(
        organisation=organisation, website=website
    )
    return render(request, "openbanking/_joined.html", {"developer": developer, "code": code})


@router.post("/claim", response_class=HTMLResponse)
def claim(
    request: Request, platform: ConsolePlatformDep, code: Annotated[str, Form(max_length=100)]
) -> Response:
    found = platform.openbanking.developers.claim(code)
    return render(request, "openbanking/_claimed.html", {"claim": found})


@router.post("/{developer_id}/{decision}", response_class=HTMLResponse)
def decide(
    request: Request,
    developer_id: str,
    decision: str,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
) -> Response:
    status = {"approve": DeveloperStatus.APPROVED, "reject": DeveloperStatus.REJECTED}.get(decision)
    if status is None:
        raise NotFound("no such decision", field="decision")
    developer = platform.openbanking.developers.decide(actor, developer_id, status)
    return render(request, "openbanking/_developer_row.html", {"dev": developer})


def _sandboxes(ob: OpenBankingService, actor: Principal, apps: list[App]) -> list[dict[str, Any]]:
    """A panel per developer owning a listed sandbox app (the actor's own first): a developer
    sees its own sandbox, an operator every listed one. Each is seeded on first use."""
    owners: dict[str, list[str]] = {}
    for app in apps:
        if app.sandbox and app.owner_id:
            owners.setdefault(app.owner_id, []).append(app.name)
    ordered = sorted(owners, key=lambda owner: owner != actor.id)
    return [_panel(ob.sandbox_of(actor, owner), owners[owner]) for owner in ordered]


def _panel(box: Sandbox, app_names: list[str]) -> dict[str, Any]:
    key = hashlib.sha256(box.developer.encode()).hexdigest()[:12]  # an HTML id for any owner id
    return {"key": key, "box": box, "apps": app_names}


def _empty_jwks(text: str) -> bool:
    try:
        return not text.strip() or json.loads(text) == {"keys": []}
    except ValueError:
        return False


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ValidationError('JSON: {"keys": [...]} with public keys', field="jwks") from None
