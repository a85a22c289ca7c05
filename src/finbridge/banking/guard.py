"""The pre-posting hook: another engine (risk) may approve, decline or ask for step-up.

Banking defines the protocol and knows nothing of its implementations, so the dependency points
from risk to banking and never back. The guard runs before the write transaction opens, so a
slow model never holds ledger locks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from finbridge.core.errors import BusinessRuleViolation
from finbridge.core.money import Money
from finbridge.core.principal import Principal


class Verdict(StrEnum):
    APPROVE = "approve"
    DECLINE = "decline"
    STEP_UP = "step_up"


@dataclass(frozen=True, slots=True)
class PostingIntent:
    """What is about to be posted, as the guard sees it."""

    actor: Principal
    kind: str  # EntryKind value: transfer, withdrawal, card_payment, hold...
    from_account_id: str
    to_account_id: str | None
    from_customer_id: str | None
    to_customer_id: str | None
    amount: Money
    occurred_at: datetime
    idempotency_key: str
    channel: str | None = None  # "api", "console", "card", "branch"...
    metadata: Mapping[str, Any] = field(default_factory=dict)  # device, ip, merchant...


@dataclass(frozen=True, slots=True)
class GuardDecision:
    verdict: Verdict
    reasons: tuple[str, ...] = ()  # readable by a person
    version: str = ""  # which rule set / model decided

    @classmethod
    def approve(cls, version: str = "") -> GuardDecision:
        return cls(Verdict.APPROVE, (), version)


@runtime_checkable
class PostingGuard(Protocol):
    def check(self, intent: PostingIntent) -> GuardDecision:
        """Decide on ``intent``; must not write to the ledger."""
        ...


class ApproveAll:
    """The default guard: approves everything (no risk engine wired)."""

    def check(self, intent: PostingIntent) -> GuardDecision:
        return GuardDecision.approve("approve-all")


class PostingDeclined(BusinessRuleViolation):
    """The posting guard declined the movement; ``reasons`` say why."""

    code = "posting_declined"
    title = "Declined by risk controls"

    def __init__(self, reasons: tuple[str, ...], version: str = "") -> None:
        detail = "; ".join(reasons) or "declined"
        super().__init__(detail, reasons=list(reasons), version=version)
        self.reasons = reasons
        self.version = version
