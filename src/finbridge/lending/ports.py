"""What lending needs from other engines, as small protocols the platform fills.

Lending never imports identity, credit or risk: the platform wires their faces into these ports
(``platform/_lending_ports.py``), and tests pass plain objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

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


class ApproveApplicants:
    """For embedders and demos without identity: every applicant passes (say so in reasons)."""

    def check(self, customer_id: str) -> ApplicantCheck:
        return ApplicantCheck()


class NoRiskOpinion:
    def assess(self, customer_id: str, requested: Money, event_id: str) -> RiskOpinion:
        return RiskOpinion("approve", ("no risk engine wired",))
