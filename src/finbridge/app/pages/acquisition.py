"""For you: the customer's own offers (with the reason for each) and their marketing choice."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from finbridge.acquisition import MarketingConsentRequired
from finbridge.app.export import DataExport, ExportFiles
from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, HomeCard, customer_id, render
from finbridge.core.errors import NotFound
from finbridge.core.principal import Principal
from finbridge.platform import Platform

router = APIRouter(prefix="/app/acquisition", include_in_schema=False)


@router.get("")
def index(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    me = customer_id(actor)
    try:
        offers = platform.acquisition.offers(actor, me)
        consented = True
    except MarketingConsentRequired:
        offers, consented = [], False
    digests = platform.acquisition.inbox(actor, me, limit=5)
    zone = platform.acquisition.timezone_of(actor, me)
    context = {
        "offers": offers,
        "consented": consented,
        "digests": digests,
        "timezone": zone,
        "zones": _zones() if zone in _zones() else (zone, *_zones()),
    }
    return render(request, "acquisition/index.html", context)


@lru_cache(maxsize=1)
def _zones() -> tuple[str, ...]:
    # Area/City names only (no "Etc/GMT+8" whose sign reads backwards, no bare aliases).
    return tuple(sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/")))


@router.post("/timezone")
def set_timezone(
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    timezone: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """The zone my messages are timed in (send times, quiet hours, my local day)."""
    platform.acquisition.set_timezone(actor, customer_id(actor), timezone)
    return RedirectResponse("/app/acquisition#timezone", status_code=303)


@router.post("/opt-out")
def opt_out(actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    """Stop every campaign for me, at once (consent itself is withdrawn under Privacy)."""
    platform.acquisition.opt_out(actor, customer_id(actor), "*")
    return RedirectResponse("/app/acquisition", status_code=303)


def card(platform: Platform, principal: Principal) -> Mapping[str, Any] | None:
    """The home tile: the newest digest or offer message, when there is one."""
    newest = platform.acquisition.inbox(principal, customer_id(principal), limit=1)
    return {"newest": newest[0]} if newest else None


CARD = HomeCard("acquisition", "acquisition/_card.html", card, order=50)


def export_files(platform: Platform, actor: Principal) -> ExportFiles:
    """For "download all my data": the marketing profile kept about me and what was sent."""
    me = customer_id(actor)
    try:
        profile: object = platform.acquisition.profile(actor, me)
    except (MarketingConsentRequired, NotFound):
        profile = None  # none is kept without marketing consent
    return {
        "marketing_profile.json": profile,
        "marketing_messages.json": platform.acquisition.inbox(actor, me, limit=200),
    }


EXPORT = DataExport("acquisition", export_files)
