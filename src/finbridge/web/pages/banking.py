"""Console pages for the banking core: customers, their accounts, an account's ledger history.

Reads and the freeze/unfreeze commands go through ``BankingService`` with the signed-in
principal, exactly as the ``/v1`` routes do.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import Response

from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep
from finbridge.web.templating import render

router = APIRouter(prefix="/console/banking", include_in_schema=False)
NAV = ("Customers", "/console/banking")
NAV_ORDER = 10

Cursor = Annotated[str | None, Query(max_length=64)]
Reason = Annotated[str, Form(min_length=1, max_length=500)]


@router.get("")
def customers(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    cursor: Cursor = None,
) -> Response:
    page = platform.banking.list_customers(actor, limit=50, cursor=cursor)
    return render(request, "banking/customers.html", {"page": page, "cursor": cursor})


@router.get("/customers/{customer_id}")
def customer(
    request: Request, customer_id: str, actor: ConsolePrincipalDep, platform: ConsolePlatformDep
) -> Response:
    banking = platform.banking
    found = banking.get_customer(actor, customer_id)
    accounts = banking.list_accounts(actor, customer_id=customer_id, limit=200).items
    return render(request, "banking/customer.html", {"customer": found, "accounts": accounts})


@router.get("/accounts/{account_id}")
def account(
    request: Request,
    account_id: str,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    cursor: Cursor = None,
) -> Response:
    banking = platform.banking
    found = banking.get_account(actor, account_id)
    history = banking.history(actor, account_id, limit=50, cursor=cursor)
    if request.headers.get("hx-request") == "true" and cursor:
        return render(request, "banking/_history_rows.html", {"account": found, "history": history})
    return render(request, "banking/account.html", {"account": found, "history": history})


@router.post("/accounts/{account_id}/freeze")
def freeze(
    request: Request,
    account_id: str,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    reason: Reason,
) -> Response:
    found = platform.banking.freeze_account(actor, account_id, reason=reason)
    return render(request, "banking/_status.html", {"account": found})


@router.post("/accounts/{account_id}/unfreeze")
def unfreeze(
    request: Request,
    account_id: str,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    reason: Reason,
) -> Response:
    found = platform.banking.unfreeze_account(actor, account_id, reason=reason)
    return render(request, "banking/_status.html", {"account": found})


# ---------------------------------------------------------------------------- dual control
# The queue of operators' movements waiting for a second operator. Approve/decline are HTMX
# posts, so the console guard's CSRF rule (HX-Request, same origin) covers them; the service
# decides who may approve (never the maker).
approvals_router = APIRouter(prefix="/console/approvals", include_in_schema=False)
Note = Annotated[str, Form(max_length=500)]
StatusFilter = Annotated[str, Query(pattern="^(pending|approved|declined|expired|failed|all)$")]


@approvals_router.get("")
def approvals(
    request: Request,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    status: StatusFilter = "pending",
) -> Response:
    items = platform.banking.approvals(actor, status=None if status == "all" else status)
    return render(request, "banking/approvals.html", {"items": items, "status": status})


@approvals_router.post("/{approval_id}/approve")
def approve(
    request: Request,
    approval_id: str,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    note: Note = "",
) -> Response:
    platform.banking.approve(actor, approval_id, note=note)
    found = platform.banking.approval(actor, approval_id)
    return render(request, "banking/_approval_row.html", {"a": found})


@approvals_router.post("/{approval_id}/decline")
def decline(
    request: Request,
    approval_id: str,
    actor: ConsolePrincipalDep,
    platform: ConsolePlatformDep,
    note: Note = "",
) -> Response:
    found = platform.banking.decline(actor, approval_id, note=note)
    return render(request, "banking/_approval_row.html", {"a": found})
