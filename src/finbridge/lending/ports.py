"""What lending needs from other engines, as small protocols the platform fills.

Lending never imports identity, credit or risk: the platform wires their faces into these ports
(``platform/_lending_ports.py``), and tests pass plain objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.orm import Session

from finbridge.core.money import Money


@dataclass(frozen=True, slots=True)
class ApplicantCheck:
    """Consent for credit assessment, verified KYC and age: what failed, in words."""

    refusals: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.refusals


@dataclass(frozen=True, slots=True)
class CreditScore:
    score: float
    model: str  # name and version of the live model that scored, e.g. "taiwan@3"
    reasons: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class RiskOpinion:
    outcome: str  # approve | review | step_up | decline
    reasons: tuple[str, ...] = field(default_factory=tuple)


class ApplicantChecks(Protocol):
    def check(self, customer_id: str) -> ApplicantCheck: ...


class CreditScorer(Protocol):
    def score(self, customer_id: str, applicant: dict[str, Any]) -> CreditScore: ...


class RiskDecider(Protocol):
    def assess(self, customer_id: str, requested: Money, event_id: str) -> RiskOpinion: ...


class AuditTrail(Protocol):
    """The bank's tamper-evident audit log (identity's hash chain): one line per decision,
    appended in the caller's transaction so the decision and its audit line commit together."""

    def append(
        self, session: Session, *, actor: str, action: str, subject: str | None, outcome: str,
        detail: dict[str, Any],
    ) -> int: ...  # fmt: skip


class CustomerNotices(Protocol):
    """Tell a customer about a decision on their line (identity's inbox), once per reference."""

    def notify(self, customer_id: str, *, title: str, body: str, reference: str) -> None: ...


class NoAuditTrail:
    """For embedders without identity: decisions are still stored and emitted as events."""

    def append(
        self, session: Session, *, actor: str, action: str, subject: str | None, outcome: str,
        detail: dict[str, Any],
    ) -> int:  # fmt: skip
        return 0


class NoNotices:
    def notify(self, customer_id: str, *, title: str, body: str, reference: str) -> None:
        return None


class ApproveApplicants:
    """For embedders and demos without identity: every applicant passes (say so in reasons)."""

    def check(self, customer_id: str) -> ApplicantCheck:
        return ApplicantCheck()


class NoRiskOpinion:
    def assess(self, customer_id: str, requested: Money, event_id: str) -> RiskOpinion:
        return RiskOpinion("approve", ("no risk engine wired",))
