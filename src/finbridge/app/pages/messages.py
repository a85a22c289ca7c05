"""Messages: the customer's inbox (identity's), delivered to by the engines."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, HomeCard, customer_id, render
from finbridge.core.principal import Principal
from finbridge.platform import Platform

router = APIRouter(prefix="/app/messages", include_in_schema=False)
PAGE = 20


@router.get("")
def inbox(
    request: Request,
    actor: AppPrincipalDep,
    platform: AppPlatformDep,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> Response:
    me = customer_id(actor)
    found = platform.identity.inbox.list(actor, me, limit=PAGE + 1, offset=(page - 1) * PAGE)
    context = {
        "messages": found[:PAGE],
        "page": page,
        "more": len(found) > PAGE,
        "unread": platform.identity.inbox.unread_count(actor, me),
    }
    return render(request, "messages/index.html", context)


@router.get("/{message_id}")
def message(
    request: Request, message_id: str, actor: AppPrincipalDep, platform: AppPlatformDep
) -> Response:
    """Opening a message marks it read (the customer has seen it)."""
    shown = platform.identity.inbox.mark_read(actor, message_id)
    return render(request, "messages/message.html", {"message": shown})


@router.post("/read-all")
def read_all(actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
    platform.identity.inbox.mark_all_read(actor, customer_id(actor))
    return RedirectResponse("/app/messages", status_code=303)


def card(platform: Platform, principal: Principal) -> Mapping[str, Any] | None:
    """The home tile: unread count and the newest unread message, when there is one."""
    unread, newest = platform.identity.inbox.newest_unread(principal, customer_id(principal))
    return None if newest is None else {"unread": unread, "newest": newest}


CARD = HomeCard("messages", "messages/_card.html", card, order=900)
