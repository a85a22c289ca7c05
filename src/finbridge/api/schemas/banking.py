"""Banking wire schemas: customers, accounts, balances, transactions, transfers, holds.

Amounts are decimal strings; a JSON number is refused with an error naming the field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from finbridge import banking as m  # the face: value objects re-exported there
from finbridge.api.schemas.common import (
    CurrencyCode,
    EntityId,
    PositiveAmount,
    WireModel,
)

DisplayName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=500)]
Reason = Annotated[str, StringConstraints(min_length=1, max_length=500)]


class CustomerCreate(WireModel):
    kind: Literal["personal", "corporate"]
    display_name: DisplayName
    external_ref: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class CustomerPublic(BaseModel):
    id: str
    kind: str
    display_name: str
    status: str
    external_ref: str | None
    created_at: datetime

    @classmethod
    def of(cls, c: m.Customer) -> CustomerPublic:
        return cls(
            id=c.id,
            kind=c.kind.value,
            display_name=c.display_name,
            status=c.status,
            external_ref=c.external_ref,
            created_at=c.created_at,
        )


class AccountCreate(WireModel):
    customer_id: EntityId
    kind: Literal["current", "savings"]
    currency: CurrencyCode
    interest_rate: (
        Annotated[str, StringConstraints(pattern=r"^0(\.\d{1,6})?$|^1(\.0{1,6})?$")] | None
    ) = Field(default=None, description='Annual rate for savings, as a decimal string ("0.0135")')


class AccountPublic(BaseModel):
    id: str
    customer_id: str | None
    kind: str
    currency: str
    status: str
    balance: str
    held: str
    available: str
    floor: str
    interest_rate: str | None
    created_at: datetime

    @classmethod
    def of(cls, a: m.Account) -> AccountPublic:
        return cls(
            id=a.id,
            customer_id=a.customer_id,
            kind=a.kind.value,
            currency=a.currency,
            status=a.status.value,
            balance=str(a.balance.amount),
            held=str(a.held.amount),
            available=str(a.available.amount),
            floor=str(a.floor.amount),
            interest_rate=str(a.interest_rate) if a.interest_rate is not None else None,
            created_at=a.created_at,
        )


class BalancePublic(BaseModel):
    account_id: str
    currency: str
    balance: str
    held: str
    available: str
    floor: str

    @classmethod
    def of(cls, b: m.Balance) -> BalancePublic:
        return cls(
            account_id=b.account_id,
            currency=b.currency,
            balance=str(b.balance.amount),
            held=str(b.held.amount),
            available=str(b.available.amount),
            floor=str(b.floor.amount),
        )


class TransactionPublic(BaseModel):
    posting_id: int
    entry_id: str
    kind: str
    amount: str = Field(description="Signed: positive credits the account, negative debits it")
    currency: str
    balance_after: str
    description: str
    created_at: datetime

    @classmethod
    def of(cls, h: m.HistoryItem) -> TransactionPublic:
        return cls(
            posting_id=h.posting_id,
            entry_id=h.entry_id,
            kind=h.kind.value,
            amount=str(h.amount.amount),
            currency=h.amount.code,
            balance_after=str(h.balance_after.amount),
            description=h.description,
            created_at=h.created_at,
        )


class TransactionPage(BaseModel):
    items: list[TransactionPublic]
    next_cursor: str | None


class CustomerPage(BaseModel):
    items: list[CustomerPublic]
    next_cursor: str | None


class AccountPage(BaseModel):
    items: list[AccountPublic]
    next_cursor: str | None


class TransferCreate(WireModel):
    from_account_id: EntityId
    to_account_id: EntityId
    amount: PositiveAmount
    currency: CurrencyCode
    description: Description = ""


class PostingPublic(BaseModel):
    entry_id: str
    kind: str
    amount: str
    currency: str
    from_account_id: str
    to_account_id: str
    description: str
    created_at: datetime
    replayed: bool = Field(description="True when an earlier request with this key is returned")

    @classmethod
    def of(cls, r: m.PostingResult) -> PostingPublic:
        return cls(
            entry_id=r.entry_id,
            kind=r.kind.value,
            amount=str(r.amount.amount),
            currency=r.amount.code,
            from_account_id=r.from_account_id,
            to_account_id=r.to_account_id,
            description=r.description,
            created_at=r.created_at,
            replayed=r.replayed,
        )


class DepositCreate(WireModel):
    amount: PositiveAmount
    currency: CurrencyCode
    description: Description = ""


class HoldCreate(WireModel):
    account_id: EntityId
    amount: PositiveAmount
    currency: CurrencyCode
    description: Description = ""
    expires_in_seconds: int | None = Field(default=None, ge=60, le=30 * 86400)


class HoldCapture(WireModel):
    to_account_id: EntityId
    amount: PositiveAmount | None = Field(
        default=None, description="Capture less than the hold; default the whole hold"
    )
    currency: CurrencyCode | None = Field(default=None, description="Required with amount")
    description: Description = ""

    @model_validator(mode="after")
    def _currency_with_amount(self) -> HoldCapture:
        if (self.amount is None) != (self.currency is None):
            raise ValueError("amount and currency go together")
        return self


class HoldPublic(BaseModel):
    id: str
    account_id: str
    amount: str
    currency: str
    status: str
    description: str
    created_at: datetime
    expires_at: datetime | None
    capture_entry_id: str | None
    replayed: bool

    @classmethod
    def of(cls, h: m.Hold) -> HoldPublic:
        return cls(
            id=h.id,
            account_id=h.account_id,
            amount=str(h.amount.amount),
            currency=h.amount.code,
            status=h.status.value,
            description=h.description,
            created_at=h.created_at,
            expires_at=h.expires_at,
            capture_entry_id=h.capture_entry_id,
            replayed=h.replayed,
        )


class StatusChange(WireModel):
    reason: Reason


class ApprovalPublic(BaseModel):
    """An operator's movement waiting for (or decided by) a second operator (dual control)."""

    id: str
    kind: str
    status: str = Field(description="pending, approved, declined, expired or failed")
    amount: str
    currency: str
    from_account_id: str
    to_account_id: str
    description: str
    maker_id: str
    reasons: list[str]
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str
    entry_id: str | None

    @classmethod
    def of(cls, a: m.Approval) -> ApprovalPublic:
        return cls(
            id=a.id, kind=a.kind, status=a.status, amount=str(a.amount.amount),
            currency=a.amount.code, from_account_id=a.from_account_id,
            to_account_id=a.to_account_id, description=a.description, maker_id=a.maker_id,
            reasons=list(a.reasons), created_at=a.created_at, expires_at=a.expires_at,
            decided_by=a.decided_by, decided_at=a.decided_at, note=a.note, entry_id=a.entry_id,
        )  # fmt: skip


class ApprovalDecision(WireModel):
    note: Description = ""
