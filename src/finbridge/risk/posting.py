"""Risk as banking's posting guard: transfers and payments ask the engine before posting.

Banking defines :class:`~finbridge.banking.guard.PostingGuard`; this adapter turns a
``PostingIntent`` into a decision request, asks the engine, and maps the outcome:

* ``decline`` -> ``Verdict.DECLINE`` (banking raises ``PostingDeclined`` with the reasons)
* ``step_up`` -> ``Verdict.STEP_UP`` (banking raises ``StepUpRequired``; the identity engine's
  step-up is what the client performs), unless the intent's metadata says a fresh second factor
  was already passed (``metadata["step_up"] == "passed"``, set by the caller after identity
  verified it), in which case it is approved
* ``review`` -> ``Verdict.APPROVE``: the money moves and an analyst reviews the open case
* ``approve`` -> ``Verdict.APPROVE``

The decision's event id is derived from the posting's idempotency key, so a retried posting is
not counted twice in the velocity windows and gets the same decision. If the engine refuses the
request itself (a clock far out of order, a malformed intent), the guard answers with the
engine's configured safe outcome and says so: it never lets an unchecked posting through silently.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from finbridge.banking.guard import GuardDecision, PostingIntent, Verdict
from finbridge.core.errors import FinbridgeError
from finbridge.core.principal import Principal

if TYPE_CHECKING:
    from finbridge.risk._service import RiskService

_KINDS = {
    "transfer": "transfer",
    "withdrawal": "withdrawal",
    "card_payment": "payment",
    "hold_capture": "payment",
}
_VERDICT = {
    "approve": Verdict.APPROVE,
    "review": Verdict.APPROVE,
    "step_up": Verdict.STEP_UP,
    "decline": Verdict.DECLINE,
}
_META_KEYS = ("device_id", "ip", "card_id", "terminal_id", "merchant_id", "country")


class RiskGuard:
    """Implements banking's ``PostingGuard`` protocol with the risk engine."""

    def __init__(self, risk: RiskService) -> None:
        self.risk = risk
        self._actor = Principal.system("risk-guard")

    def request_for(self, intent: PostingIntent) -> dict[str, Any]:
        event_type = _KINDS.get(intent.kind, "payment")
        digest = hashlib.sha256(f"{intent.actor.id}\x00{intent.idempotency_key}".encode())
        meta = intent.metadata or {}
        req: dict[str, Any] = {
            "event_type": event_type,
            "event_id": f"posting:{digest.hexdigest()[:40]}",
            "occurred_at": intent.occurred_at,
            "customer_id": intent.from_customer_id or f"account:{intent.from_account_id}",
            "amount": str(intent.amount.amount),
            "currency": intent.amount.code,
            "account_id": intent.from_account_id,
            "channel": intent.channel,
        }
        if event_type in ("transfer", "payment"):
            req["payee_id"] = intent.to_customer_id or intent.to_account_id
        for k in _META_KEYS:
            v = meta.get(k)
            if isinstance(v, str) and v:
                req[k] = v
        return req

    def check(self, intent: PostingIntent) -> GuardDecision:
        try:
            d = self.risk.decide(self._actor, self.request_for(intent))
        except FinbridgeError as exc:
            safe = self.risk.settings.safe_outcome
            return GuardDecision(
                _VERDICT[safe],
                (f"risk check could not run ({exc}); safe decision '{safe}' by policy",),
                "risk-guard-fallback",
            )
        version = f"{d.rule_set}/{d.model_version}/{d.decision_id}"
        verdict = _VERDICT[d.outcome]
        if verdict is Verdict.STEP_UP and (intent.metadata or {}).get("step_up") == "passed":
            return GuardDecision(Verdict.APPROVE, (*d.reasons, "step-up passed"), version)
        return GuardDecision(verdict, d.reasons, version)
