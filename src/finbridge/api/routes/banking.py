"""Banking over HTTP: customers, accounts, balances, transactions, transfers, holds.

Routes are thin: parse the wire schema, build ``Money``, call one ``BankingService`` method with
the caller's principal (the service authorises, including object ownership), render.
Money-moving calls require an ``Idempotency-Key`` header; a retry returns the first result.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, status
from fastapi.responses import JSONResponse

from finbridge.api.deps import PlatformDep, PrincipalDep
from finbridge.api.schemas.banking import (
    AccountCreate,
    AccountPage,
    AccountPublic,
    ApprovalDecision,
    ApprovalPublic,
    BalancePublic,
    CustomerCreate,
    CustomerPage,
    CustomerPublic,
    DepositCreate,
    HoldCapture,
    HoldCreate,
    HoldPublic,
    PostingPublic,
    StatusChange,
    TransactionPage,
    TransactionPublic,
    TransferCreate,
)
from finbridge.banking import BankingService
from finbridge.core.errors import PendingApproval, ValidationError
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.platform import Platform

router = APIRouter(tags=["banking"])


def _service(platform: PlatformDep) -> BankingService:
    return platform.banking


def _idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Client-chosen unique key; a retry with the same key returns the "
            "first result and never posts twice.",
        ),
    ] = None,
) -> str:
    if key is None or not key.strip():
        raise ValidationError(
            "the Idempotency-Key header is required for money-moving requests",
            field="Idempotency-Key",
        )
    if len(key) > 200 or not key.isascii() or not key.isprintable():
        raise ValidationError(
            "Idempotency-Key must be at most 200 printable ASCII characters",
            field="Idempotency-Key",
        )
    return key.strip()


Banking = Annotated[BankingService, Depends(_service)]
IdempotencyKey = Annotated[str, Depends(_idempotency_key)]
Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=64)]


# ---------------------------------------------------------------------------- customers
@router.post("/customers", status_code=status.HTTP_201_CREATED, response_model=CustomerPublic)
def create_customer(body: CustomerCreate, actor: PrincipalDep, banking: Banking) -> CustomerPublic:
    customer = banking.create_customer(
        actor, kind=body.kind, display_name=body.display_name, external_ref=body.external_ref
    )
    return CustomerPublic.of(customer)


@router.get("/customers", response_model=CustomerPage)
def list_customers(
    actor: PrincipalDep, banking: Banking, limit: Limit = 50, cursor: Cursor = None
) -> CustomerPage:
    page = banking.list_customers(actor, limit=limit, cursor=cursor)
    return CustomerPage(
        items=[CustomerPublic.of(c) for c in page.items], next_cursor=page.next_cursor
    )


@router.get("/customers/{customer_id}", response_model=CustomerPublic)
def get_customer(customer_id: str, actor: PrincipalDep, banking: Banking) -> CustomerPublic:
    return CustomerPublic.of(banking.get_customer(actor, customer_id))


# ---------------------------------------------------------------------------- accounts
@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=AccountPublic)
def open_account(body: AccountCreate, actor: PrincipalDep, banking: Banking) -> AccountPublic:
    account = banking.open_account(
        actor,
        body.customer_id,
        kind=body.kind,
        currency_code=body.currency,
        interest_rate=body.interest_rate,
    )
    return AccountPublic.of(account)


@router.get("/accounts", response_model=AccountPage)
def list_accounts(
    actor: PrincipalDep,
    banking: Banking,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> AccountPage:
    page = banking.list_accounts(actor, customer_id=customer_id, limit=limit, cursor=cursor)
    return AccountPage(
        items=[AccountPublic.of(a) for a in page.items], next_cursor=page.next_cursor
    )


@router.get("/accounts/{account_id}", response_model=AccountPublic)
def get_account(account_id: str, actor: PrincipalDep, banking: Banking) -> AccountPublic:
    return AccountPublic.of(banking.get_account(actor, account_id))


@router.get("/accounts/{account_id}/balance", response_model=BalancePublic)
def get_balance(account_id: str, actor: PrincipalDep, banking: Banking) -> BalancePublic:
    return BalancePublic.of(banking.balance(actor, account_id))


@router.get("/accounts/{account_id}/transactions", response_model=TransactionPage)
def list_transactions(
    account_id: str, actor: PrincipalDep, banking: Banking, limit: Limit = 50, cursor: Cursor = None
) -> TransactionPage:
    page = banking.history(actor, account_id, limit=limit, cursor=cursor)
    return TransactionPage(
        items=[TransactionPublic.of(h) for h in page.items], next_cursor=page.next_cursor
    )


@router.post("/accounts/{account_id}/freeze", response_model=AccountPublic)
def freeze_account(
    account_id: str, body: StatusChange, actor: PrincipalDep, banking: Banking
) -> AccountPublic:
    return AccountPublic.of(banking.freeze_account(actor, account_id, reason=body.reason))


@router.post("/accounts/{account_id}/unfreeze", response_model=AccountPublic)
def unfreeze_account(
    account_id: str, body: StatusChange, actor: PrincipalDep, banking: Banking
) -> AccountPublic:
    return AccountPublic.of(banking.unfreeze_account(actor, account_id, reason=body.reason))


# An operator's movement at or above the dual-control threshold is accepted, not done.
_WAITS: dict[int | str, dict[str, Any]] = {
    202: {
        "model": ApprovalPublic,
        "description": "An operator's movement at or above the dual-control threshold (or one "
        "the risk engine wants confirmed): pending until a second operator approves it "
        "(POST /v1/approvals/{id}/approve)",
    }
}


def _waiting(banking: BankingService, actor: Principal, waiting: PendingApproval) -> JSONResponse:
    pending = banking.approval(actor, str(waiting.extra["approval_id"]))
    body_json = ApprovalPublic.of(pending).model_dump(mode="json")
    return JSONResponse(body_json, status_code=status.HTTP_202_ACCEPTED)


@router.post(
    "/accounts/{account_id}/deposits",
    status_code=status.HTTP_201_CREATED,
    response_model=PostingPublic,
    summary="Cash deposit at a teller (operators)",
    responses=_WAITS,
)
def deposit(
    account_id: str,
    body: DepositCreate,
    actor: PrincipalDep,
    banking: Banking,
    key: IdempotencyKey,
) -> PostingPublic | JSONResponse:
    amount = Money.of(body.amount, body.currency)
    try:
        result = banking.deposit(
            actor, account_id, amount, idempotency_key=key, description=body.description
        )
    except PendingApproval as waiting:
        return _waiting(banking, actor, waiting)
    return PostingPublic.of(result)


# ---------------------------------------------------------------------------- transfers
@router.post(
    "/transfers",
    status_code=status.HTTP_201_CREATED,
    response_model=PostingPublic,
    responses=_WAITS,
)
def create_transfer(
    body: TransferCreate, actor: PrincipalDep, banking: Banking, key: IdempotencyKey
) -> PostingPublic | JSONResponse:
    amount = Money.of(body.amount, body.currency)
    try:
        result = banking.transfer(
            actor,
            body.from_account_id,
            body.to_account_id,
            amount,
            idempotency_key=key,
            description=body.description,
            channel="api",
        )
    except PendingApproval as waiting:
        return _waiting(banking, actor, waiting)
    return PostingPublic.of(result)


# ---------------------------------------------------------------------------- dual control
ApprovalStatus = Annotated[
    str | None, Query(alias="status", pattern="^(pending|approved|declined|expired|failed)$")
]


@router.get("/approvals", response_model=list[ApprovalPublic], summary="Dual-control queue")
def list_approvals(
    actor: PrincipalDep, banking: Banking, status_: ApprovalStatus = None, limit: Limit = 100
) -> list[ApprovalPublic]:
    return [ApprovalPublic.of(a) for a in banking.approvals(actor, status=status_, limit=limit)]


@router.get("/approvals/{approval_id}", response_model=ApprovalPublic)
def get_approval(approval_id: str, actor: PrincipalDep, banking: Banking) -> ApprovalPublic:
    return ApprovalPublic.of(banking.approval(actor, approval_id))


@router.post(
    "/approvals/{approval_id}/approve",
    response_model=PostingPublic,
    summary="Approve as the second operator: the movement posts (once)",
)
def approve(
    approval_id: str, body: ApprovalDecision, actor: PrincipalDep, banking: Banking
) -> PostingPublic:
    return PostingPublic.of(banking.approve(actor, approval_id, note=body.note))


@router.post("/approvals/{approval_id}/decline", response_model=ApprovalPublic)
def decline(
    approval_id: str, body: ApprovalDecision, actor: PrincipalDep, banking: Banking
) -> ApprovalPublic:
    return ApprovalPublic.of(banking.decline(actor, approval_id, note=body.note))


# ---------------------------------------------------------------------------- holds
@router.post("/holds", status_code=status.HTTP_201_CREATED, response_model=HoldPublic)
def place_hold(
    body: HoldCreate,
    actor: PrincipalDep,
    banking: Banking,
    platform: PlatformDep,
    key: IdempotencyKey,
) -> HoldPublic:
    amount = Money.of(body.amount, body.currency)
    expires_at = _expiry(platform, body.expires_in_seconds)
    hold = banking.place_hold(
        actor,
        body.account_id,
        amount,
        idempotency_key=key,
        expires_at=expires_at,
        description=body.description,
    )
    return HoldPublic.of(hold)


@router.get("/holds/{hold_id}", response_model=HoldPublic)
def get_hold(hold_id: str, actor: PrincipalDep, banking: Banking) -> HoldPublic:
    return HoldPublic.of(banking.get_hold(actor, hold_id))


@router.post("/holds/{hold_id}/capture", response_model=PostingPublic)
def capture_hold(
    hold_id: str, body: HoldCapture, actor: PrincipalDep, banking: Banking, key: IdempotencyKey
) -> PostingPublic:
    amount = None if body.amount is None else Money.of(body.amount, body.currency or "")
    result = banking.capture_hold(
        actor,
        hold_id,
        to_account_id=body.to_account_id,
        idempotency_key=key,
        amount=amount,
        description=body.description,
    )
    return PostingPublic.of(result)


@router.post("/holds/{hold_id}/release", response_model=HoldPublic)
def release_hold(hold_id: str, actor: PrincipalDep, banking: Banking) -> HoldPublic:
    return HoldPublic.of(banking.release_hold(actor, hold_id))


def _expiry(platform: Platform, seconds: int | None) -> datetime | None:
    return None if seconds is None else platform.clock.now() + timedelta(seconds=seconds)
