"""Value objects the banking service returns: plain frozen dataclasses, no ORM rows leak out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, TypeVar

from finbridge.core.money import Money

T = TypeVar("T")


class CustomerKind(StrEnum):
    PERSONAL = "personal"
    CORPORATE = "corporate"


class AccountKind(StrEnum):
    CURRENT = "current"
    SAVINGS = "savings"
    INTERNAL = "internal"


class AccountStatus(StrEnum):
    OPEN = "open"
    FROZEN = "frozen"
    CLOSED = "closed"


class HoldStatus(StrEnum):
    ACTIVE = "active"
    CAPTURED = "captured"
    RELEASED = "released"
    EXPIRED = "expired"


class EntryKind(StrEnum):
    TRANSFER = "transfer"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    OPENING_BALANCE = "opening_balance"
    CARD_PAYMENT = "card_payment"
    HOLD_CAPTURE = "hold_capture"
    INTEREST = "interest"
    JOURNAL = "journal"  # a multi-leg entry (post_journal): FX conversions, payments with fees


class InternalAccount(StrEnum):
    """The bank's own accounts, one per currency, created on first use."""

    CASH = "cash"  # teller deposits and withdrawals
    FUNDING = "funding"  # opening balances of seeded/migrated customers
    CLEARING = "clearing"
    INTEREST_EXPENSE = "interest_expense"
    CARD_SETTLEMENT = "card_settlement"  # merchants' side of card payments
    INTEREST_INCOME = "interest_income"  # interest the bank earns on credit lines
    LOAN_LOSS_ALLOWANCE = "loan_loss_allowance"  # charge-offs written off against it
    FX_POSITION = "fx_position"  # the bank's position per currency: FX conversions go through it
    FEE_INCOME = "fee_income"  # fees the bank earns (merchant fees, FX fees)


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    kind: CustomerKind
    display_name: str
    status: str
    created_at: datetime
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Account:
    id: str
    customer_id: str | None
    kind: AccountKind
    currency: str
    status: AccountStatus
    balance: Money
    held: Money
    floor: Money
    created_at: datetime
    interest_rate: Decimal | None = None
    internal_code: str | None = None

    @property
    def available(self) -> Money:
        return self.balance - self.held


@dataclass(frozen=True, slots=True)
class Balance:
    account_id: str
    currency: str
    balance: Money  # ledger balance: the sum of the account's postings
    held: Money  # reserved by active holds
    available: Money  # balance - held; may not go below the floor
    floor: Money


@dataclass(frozen=True, slots=True)
class JournalLeg:
    """One leg of a multi-leg journal entry (:meth:`BankingService.post_journal`).

    ``amount`` is positive; ``debit`` takes it out of the account. A leg names either a
    customer's account (``account_id``) or one of the bank's own accounts by code
    (``internal``, in the amount's currency); only the platform itself may post to the latter.
    """

    amount: Money
    debit: bool
    account_id: str | None = None
    internal: InternalAccount | None = None
    field: str = "legs"

    @classmethod
    def take(cls, account_id: str, amount: Money, *, field: str = "legs") -> JournalLeg:
        return cls(amount, True, account_id=account_id, field=field)

    @classmethod
    def give(cls, account_id: str, amount: Money, *, field: str = "legs") -> JournalLeg:
        return cls(amount, False, account_id=account_id, field=field)

    @classmethod
    def bank(cls, code: InternalAccount, amount: Money, *, debit: bool) -> JournalLeg:
        return cls(amount, debit, internal=code, field="legs")

    @property
    def signed_minor(self) -> int:
        return -self.amount.minor if self.debit else self.amount.minor


@dataclass(frozen=True, slots=True)
class PostedLeg:
    account_id: str
    amount: Money  # signed: positive credits the account


@dataclass(frozen=True, slots=True)
class JournalResult:
    """The stored outcome of one multi-leg entry; a retry returns the same value."""

    entry_id: str
    legs: tuple[PostedLeg, ...]
    created_at: datetime
    description: str = ""
    replayed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "kind": EntryKind.JOURNAL.value,
            "legs": [
                {
                    "account_id": x.account_id,
                    "amount": str(x.amount.amount),
                    "currency": x.amount.code,
                }
                for x in self.legs
            ],
            "created_at": self.created_at.isoformat(),
            "description": self.description,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, replayed: bool) -> JournalResult:
        legs = tuple(
            PostedLeg(x["account_id"], Money.of(x["amount"], x["currency"])) for x in data["legs"]
        )
        return cls(
            entry_id=data["entry_id"],
            legs=legs,
            created_at=datetime.fromisoformat(data["created_at"]),
            description=data.get("description", ""),
            replayed=replayed,
        )


@dataclass(frozen=True, slots=True)
class PostingResult:
    """The stored outcome of one money-moving command; a retry returns the same value."""

    entry_id: str
    kind: EntryKind
    amount: Money
    from_account_id: str
    to_account_id: str
    created_at: datetime
    description: str = ""
    replayed: bool = False  # True when this is the first result returned again for a retry

    def to_json(self) -> dict[str, Any]:
        return {
            "entry_id": self.entry_id,
            "kind": self.kind.value,
            "amount": str(self.amount.amount),
            "currency": self.amount.code,
            "from_account_id": self.from_account_id,
            "to_account_id": self.to_account_id,
            "created_at": self.created_at.isoformat(),
            "description": self.description,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, replayed: bool) -> PostingResult:
        return cls(
            entry_id=data["entry_id"],
            kind=EntryKind(data["kind"]),
            amount=Money.of(data["amount"], data["currency"]),
            from_account_id=data["from_account_id"],
            to_account_id=data["to_account_id"],
            created_at=datetime.fromisoformat(data["created_at"]),
            description=data.get("description", ""),
            replayed=replayed,
        )


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    account_id: str
    amount: Money
    status: HoldStatus
    created_at: datetime
    expires_at: datetime | None
    description: str = ""
    capture_entry_id: str | None = None
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class HistoryItem:
    posting_id: int
    entry_id: str
    kind: EntryKind
    amount: Money  # signed: positive credits the account, negative debits it
    balance_after: Money
    description: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None  # pass back as ``cursor`` for the next (older) page


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """What :meth:`BankingService.verify_ledger` found; ``ok`` means no invariant is broken."""

    accounts_checked: int
    entries_checked: int
    drifted_accounts: list[tuple[str, int, int]] = field(default_factory=list)  # id, stored, sum
    unbalanced_entries: list[str] = field(default_factory=list)
    totals_by_currency: dict[str, int] = field(default_factory=dict)  # must all be 0

    @property
    def ok(self) -> bool:
        return (
            not self.drifted_accounts
            and not self.unbalanced_entries
            and all(v == 0 for v in self.totals_by_currency.values())
        )


@dataclass(frozen=True, slots=True)
class NewAccountSpec:
    """An account to open in bulk, with its opening balance (zero for none)."""

    kind: AccountKind
    opening_balance: Money
    interest_rate: Decimal | None = None


@dataclass(frozen=True, slots=True)
class NewCustomerSpec:
    kind: CustomerKind
    display_name: str
    accounts: tuple[NewAccountSpec, ...]
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class OpenedCustomer:
    customer_id: str
    account_ids: tuple[str, ...]
    external_ref: str | None = None


@dataclass(frozen=True, slots=True)
class CardTransaction:
    """One card payment to replay: debits ``account_id``, credits the card settlement account."""

    account_id: str
    amount: Money
    idempotency_key: str
    occurred_at: datetime
    merchant: str = ""
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CardBatchResult:
    posted: int
    declined: int  # insufficient funds or inactive account: declined, nothing posted
    duplicates: int  # idempotency key already posted
    declined_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BankCharge:
    """One charge the bank takes (interest, a fee): debits the customer's ``account_id`` and
    credits the bank's own ``income`` account in the same currency, as its own entry."""

    account_id: str
    amount: Money
    idempotency_key: str
    income: InternalAccount
    description: str = ""


@dataclass(frozen=True, slots=True)
class ChargeBatchResult:
    # idempotency key -> ledger entry id, for every charge on the ledger (posted by this call,
    # or by an earlier one under the same key: a resumed batch finds its entries)
    entries: dict[str, str] = field(default_factory=dict)
    declined: dict[str, str] = field(default_factory=dict)  # key -> the rule's reason


@dataclass(frozen=True, slots=True)
class InterestRun:
    business_day: date
    accounts: int
    total_micro: dict[str, int] = field(default_factory=dict)  # per currency
