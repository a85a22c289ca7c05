"""The pre-posting hook: another engine (risk) may approve, decline or ask for step-up.

Banking defines the protocol and knows nothing of its implementations, so the dependency points
from risk to banking and never back. The guard runs before the write transaction opens, so a
slow model never holds ledger locks.

The order of a guarded posting is fixed: (1) a retry of a known idempotency key returns the
stored first result, and no guard runs; (2) ``check`` decides; (3) the posting runs; (4)
``settle`` tells the guard whether the approved posting committed or failed and why, so a
decision whose posting then failed (insufficient funds, a frozen account) is kept with its
outcome instead of counting as money that moved. ``settle`` is not called for postings the
guard refused: nothing was attempted.

Guarded: every movement that takes money out of a customer's account (transfer, withdrawal,
hold, card payment). Not guarded: money the bank puts in (teller deposits, opening balances,
interest) and the capture of a hold the guard already approved.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
    # An operator's movement that needs a second, different operator: a transfer or withdrawal
    # becomes a pending approval (service/_approvals.py); anything else is declined.
    DUAL_CONTROL = "dual_control"


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

    def settle(
        self, intent: PostingIntent, decision: GuardDecision, *, posted: bool, reason: str | None
    ) -> None:
        """Record what became of an approved ``intent``: posted, or failed with ``reason``.

        Called after the posting's transaction committed or failed; an error raised here is
        logged and never changes the posting's result.
        """
        ...


@runtime_checkable
class BatchPostingGuard(PostingGuard, Protocol):
    """A guard that decides many intents at once (the card batch); optional."""

    def check_many(self, intents: Sequence[PostingIntent]) -> list[GuardDecision]: ...


def check_many(guard: PostingGuard, intents: Sequence[PostingIntent]) -> list[GuardDecision]:
    """Decide ``intents`` in one call if ``guard`` can, else one by one, in order."""
    if isinstance(guard, BatchPostingGuard):
        return guard.check_many(intents)
    return [guard.check(intent) for intent in intents]


class ApprovalAudit(Protocol):
    """Where dual-control decisions are audited (identity's hash-chained log, wired by the
    platform), appended inside banking's own transaction."""

    def append(
        self, session: Any, *, actor: str, action: str, subject: str | None, outcome: str,
        detail: dict[str, Any],
    ) -> int: ...  # fmt: skip


class ApproveAll:
    """The default guard: approves everything (no risk engine wired)."""

    def check(self, intent: PostingIntent) -> GuardDecision:
        return GuardDecision.approve("approve-all")

    def check_many(self, intents: Sequence[PostingIntent]) -> list[GuardDecision]:
        decision = GuardDecision.approve("approve-all")
        return [decision] * len(intents)

    def settle(
        self, intent: PostingIntent, decision: GuardDecision, *, posted: bool, reason: str | None
    ) -> None:
        return None


class PostingDeclined(BusinessRuleViolation):
    """The posting guard declined the movement; ``reasons`` say why."""

    code = "posting_declined"
    title = "Declined by risk controls"

    def __init__(self, reasons: tuple[str, ...], version: str = "") -> None:
        detail = "; ".join(reasons) or "declined"
        super().__init__(detail, reasons=list(reasons), version=version)
        self.reasons = reasons
        self.version = version
