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

Two policies sit on top of the engine's outcome (issue 11):

* **Cumulative step-up.** A customer's money out of the ledger needs a fresh second factor once
  the amount moved in the last 24 hours, this posting included, reaches the currency's
  large-transfer limit (identity's, passed in by the platform): splitting 199,999 + 100,000 TWD
  steps up like one 299,999 TWD transfer. The sum is kept per customer *and currency* in a
  window of its own (``spend``: exact integer minor units, on the decision windows' backend),
  each currency against its own limit, which is data: 150,000 TWD and 40,000 CNY add up to
  nothing, since no rate makes them one number without a conversion whose date and source
  would themselves need policing; every kind of money out (transfers, payments, holds,
  withdrawals) counts together. Only fresh decisions are counted (a retry replays its decision
  and is never counted twice). The step-up is remembered on the stored decision, so a retry of
  the same idempotency key (which replays the decision without its features) steps up again
  instead of slipping through.
Operators and the platform's own jobs cannot give a customer's second factor: what a
``step_up`` means for them (a second operator, the actor's authority, or a decline) and the
dual-control threshold are banking's operator policy (``banking/service/_policy.py``), the one
place for that rule; this guard reports the engine's outcome for them unchanged.

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
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from finbridge.banking.guard import GuardDecision, PostingIntent, Verdict
from finbridge.core.errors import FinbridgeError
from finbridge.core.money import MAX_AMOUNT_MINOR, Money
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.risk.decisions._velocity import (
    EntityWindows,
    InProcessVelocity,
    VelocityConfig,
    VelocityEvent,
    VelocityStore,
)

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

CUMULATIVE_WINDOW: Final = "1d"
# A customer's money out per currency (entity "customer" keyed "<customer>:<currency>"), in
# minor units (scale 1): exact sums, each compared with its own currency's limit.
SPEND_WINDOWS: Final = VelocityConfig(
    entities=(EntityWindows("customer", (CUMULATIVE_WINDOW,)),), minor_per_major=1
)
_SPEND_SUM = f"customer_sum_{CUMULATIVE_WINDOW}"
log = logging.getLogger(__name__)
_CUMULATIVE = "step_up_cumulative"  # marks a decision whose posting waits for a second factor


class RiskGuard:
    """Implements banking's ``PostingGuard`` protocol with the risk engine."""

    def __init__(
        self,
        risk: DecisionMaker,
        *,
        cumulative_limits: Mapping[str, Money] | None = None,
        spend: VelocityStore | None = None,
    ) -> None:
        self.risk = risk
        self._actor = Principal.system("risk-guard")
        self.cumulative_limits = dict(cumulative_limits or {})
        self.spend: VelocityStore = spend or InProcessVelocity(SPEND_WINDOWS)

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
        verdict, reasons = _VERDICT[d.outcome], d.reasons
        if intent.actor.kind is PrincipalKind.CUSTOMER:
            spent = self._spent(intent, d)
            if verdict is Verdict.APPROVE:
                over = self._cumulative_over(intent, d, spent)
                if over is not None:
                    verdict, reasons = Verdict.STEP_UP, (*reasons, over)
        return GuardDecision(verdict, reasons, version)

    def _spent(self, intent: PostingIntent, d: Any) -> int | None:
        """Count a fresh decision's amount in its customer's window for its currency; the
        window's total in minor units (None for a replayed decision: counted the first time)."""
        if not d.features or not intent.from_customer_id:
            return None
        code = intent.amount.code
        event = VelocityEvent(
            event_id=str(d.event_id),
            ts_ms=int(intent.occurred_at.timestamp() * 1000),
            amount_minor=intent.amount.minor,
            keys={"customer": f"{intent.from_customer_id}:{code}"},
        )
        try:
            seen = self.spend.observe(event)
        except FinbridgeError as exc:
            # Uncounted spend must not let a split through: treat the window as full (more
            # step-ups while the store is out, never fewer).
            log.warning("24-hour spend not counted (%s): stepping up", exc)
            return MAX_AMOUNT_MINOR
        # Features come in major units of the window's scale; minor units of this currency.
        return round(seen[_SPEND_SUM] * self.spend.config.minor_per_major)

    def _cumulative_over(self, intent: PostingIntent, d: Any, spent: int | None) -> str | None:
        """Why the amount moved in the window needs a step-up, or None if it does not."""
        limit = self.cumulative_limits.get(intent.amount.code)
        if limit is None or intent.amount >= limit:
            return None  # no limit, or one large posting: identity's own rule asks for it
        if d.posting_outcome == "failed" and (d.posting_error or "").startswith(_CUMULATIVE):
            return str(d.posting_error)  # a retry of a posting still waiting for the factor
        if spent is None or spent < limit.minor:
            return None  # a replayed decision that never asked for it, or under the limit
        reason = (
            f"{_CUMULATIVE}: payments totalling {limit} or more within 24 hours need a fresh"
            " second factor"
        )
        # Remembered on the stored decision: a retry of this key replays it without features.
        self.risk.record_posting(d.decision_id, posted=False, reason=reason)
        return reason

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
