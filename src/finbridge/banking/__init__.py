"""Banking core: customers, accounts, a double-entry ledger, holds and savings interest.

Interfaces and other engines use :class:`BankingService` and the value objects below; the tables
are private to this package.
"""

from finbridge.banking import events as events
from finbridge.banking.guard import (
    ApprovalAudit,
    ApproveAll,
    BatchPostingGuard,
    GuardDecision,
    PostingDeclined,
    PostingGuard,
    PostingIntent,
    Verdict,
)
from finbridge.banking.interest import daily_interest_micro
from finbridge.banking.models import (
    Account,
    AccountKind,
    AccountStatus,
    Balance,
    BankCharge,
    CardBatchResult,
    CardTransaction,
    ChargeBatchResult,
    Customer,
    CustomerKind,
    EntryKind,
    HistoryItem,
    Hold,
    HoldStatus,
    InterestRun,
    InternalAccount,
    JournalLeg,
    JournalResult,
    LedgerReport,
    NewAccountSpec,
    NewCustomerSpec,
    OpenedCustomer,
    Page,
    PostedLeg,
    PostingResult,
)
from finbridge.banking.service import BankingService
from finbridge.banking.service._activity import AccountPosting, CustomerActivity
from finbridge.banking.service._approvals import APPROVE_SCOPE, Approval, ApprovalExpired

__all__ = [
    "APPROVE_SCOPE",
    "Account",
    "AccountKind",
    "AccountPosting",
    "AccountStatus",
    "Approval",
    "ApprovalAudit",
    "ApprovalExpired",
    "ApproveAll",
    "Balance",
    "BankCharge",
    "BankingService",
    "BatchPostingGuard",
    "CardBatchResult",
    "CardTransaction",
    "ChargeBatchResult",
    "Customer",
    "CustomerActivity",
    "CustomerKind",
    "EntryKind",
    "GuardDecision",
    "HistoryItem",
    "Hold",
    "HoldStatus",
    "InterestRun",
    "InternalAccount",
    "JournalLeg",
    "JournalResult",
    "LedgerReport",
    "NewAccountSpec",
    "NewCustomerSpec",
    "OpenedCustomer",
    "Page",
    "PostedLeg",
    "PostingDeclined",
    "PostingGuard",
    "PostingIntent",
    "PostingResult",
    "Verdict",
    "daily_interest_micro",
    "events",
]
