"""Risk as banking's posting guard: transfers and payments ask for a decision before posting.

This module is the only one in risk that imports banking (its guard protocol and values); the
platform loads it through ``RiskService.posting_guard()``.

Banking defines :class:`~finbridge.banking.guard.PostingGuard`; this adapter turns a
``PostingIntent`` into a decision request, asks the engine, and maps the outcome:

* ``decline`` -> ``Verdict.DECLINE`` (banking raises ``PostingDeclined`` with the reasons)
* ``step_up`` -> ``Verdict.STEP_UP`` (banking raises ``StepUpRequired``). Only identity's
  ``StepUpGuard``, which wraps this guard, turns it into an approval, and only on a fresh second
  factor held in the customer's server-side session: nothing the caller claims (metadata
  included) satisfies it here
* ``review`` -> ``Verdict.APPROVE``: the money moves and an analyst reviews the open case
* ``approve`` -> ``Verdict.APPROVE``

The decision's event id is derived from the posting's idempotency key, so a retried posting is
not counted twice in the velocity windows and gets the same decision. If the engine refuses the
request itself (a clock far out of order, a malformed intent), the guard answers with the
engine's configured safe outcome and says so: it never lets an unchecked posting through silently.

A decision is kept whatever happens to the posting it was taken for: banking calls :meth:`settle`
once the posting committed or failed, and the decision records that (``posting_outcome``
"posted" or "failed" with the reason), so an analyst sees a declined-by-the-ledger transfer
beside the risk decision that let it through, and a backtest can tell the two apart.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from finbridge.banking.guard import GuardDecision, PostingIntent, Verdict
from finbridge.core.errors import FinbridgeError
from finbridge.core.principal import Principal

if TYPE_CHECKING:
    from finbridge.risk.decisions._maker import DecisionMaker

_KINDS = {
    "transfer": "transfer",
    "withdrawal": "withdrawal",
    "card_payment": "payment",
    "hold_capture": "payment",
    "hold": "payment",  # an authorisation ahead of a payment
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

    def __init__(self, risk: DecisionMaker) -> None:
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
            # A hold names no payee until it is captured: its velocity is kept per held account.
            req["payee_id"] = (
                intent.to_customer_id or intent.to_account_id or f"hold:{intent.from_account_id}"
            )
        for k in _META_KEYS:
            v = meta.get(k)
            if isinstance(v, str) and v:
                req[k] = v
        return req

    def check(self, intent: PostingIntent) -> GuardDecision:
        try:
            d = self.risk.decide(self._actor, self.request_for(intent))
        except FinbridgeError as exc:
            safe = self.risk.options.safe_outcome
            return GuardDecision(
                _VERDICT[safe],
                (f"risk check could not run ({exc}); safe decision '{safe}' by policy",),
                "risk-guard-fallback",
            )
        version = f"{d.rule_set}/{d.model_version}/{d.decision_id}"
        verdict = _VERDICT[d.outcome]
        return GuardDecision(verdict, d.reasons, version)

    def settle(
        self, intent: PostingIntent, decision: GuardDecision, *, posted: bool, reason: str | None
    ) -> None:
        """Record on the risk decision whether its posting went through (and if not, why)."""
        decision_id = decision_id_of(decision)
        if decision_id is not None:
            self.risk.record_posting(decision_id, posted=posted, reason=reason)


def decision_id_of(decision: GuardDecision) -> str | None:
    """The risk decision behind a guard decision (``rule set/model/decision id``), if any."""
    parts = decision.version.rsplit("/", 2)
    return parts[2] if len(parts) == 3 and parts[2] else None
