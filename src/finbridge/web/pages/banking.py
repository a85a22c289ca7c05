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
