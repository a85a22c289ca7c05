"""What a decision is: the value objects the decision maker returns and the stores keep."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ShadowResult:
    """What the candidate rule set and/or model would have decided (stored, never enforced)."""

    outcome: str
    score: float
    rule_set: str
    fired: tuple[str, ...]
    ml_score: float | None = None
    model_version: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    decision_id: str
    event_id: str
    event_type: str
    customer_id: str
    outcome: str
    score: float
    ml_score: float | None
    fired: tuple[str, ...]
    reasons: tuple[str, ...]
    rule_set: str
    model_version: str
    degraded: str | None = None
    case_id: str | None = None
    shadow: ShadowResult | None = None
    # For a decision taken for a ledger posting: "posted" or "failed" once banking settled it.
    posting_outcome: str | None = None
    posting_error: str | None = None
    features: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "decision_id": self.decision_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "customer_id": self.customer_id,
            "outcome": self.outcome,
            "score": self.score,
            "ml_score": self.ml_score,
            "fired": list(self.fired),
            "reasons": list(self.reasons),
            "rule_set": self.rule_set,
            "model_version": self.model_version,
            "degraded": self.degraded,
            "case_id": self.case_id,
            "posting_outcome": self.posting_outcome,
            "posting_error": self.posting_error,
        }
        if self.shadow is not None:
            out["shadow"] = {
                "outcome": self.shadow.outcome,
                "score": self.shadow.score,
                "rule_set": self.shadow.rule_set,
                "fired": list(self.shadow.fired),
                "ml_score": self.shadow.ml_score,
                "model_version": self.shadow.model_version,
            }
        return out
