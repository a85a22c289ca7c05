"""Operator policies: what a posting guard's decision means when bank staff or the platform act.

The one place for issue 11's operator rules; every guarded posting path (transfers and teller
cash, holds, journal entries, the card batch) passes its guard decision through
:func:`operator_policy`, so a guard never needs to know who can give what:

* **Dual control above a threshold.** An operator's transfer, withdrawal or deposit at or above
  the currency's threshold (``FINBRIDGE_BANKING__DUAL_CONTROL``) always waits for a second,
  different operator, whatever the guard answered (only a guard's decline is stronger: it
  stands). Deposits are in: a teller crediting a large sum out of the bank's cash is the
  insider's classic movement, and money in has no risk decision to catch it.
* **Never an unsatisfiable step-up.** Staff and the platform cannot give a customer's second
  factor. When the guard asks for one (or for a second operator) below the threshold, an
  operator's transfer, withdrawal or deposit waits for a second operator instead; what cannot
  wait (a hold, a journal entry, a card in a batch, the platform's own jobs, which have nobody
  to ask) is approved on the actor's authority below the threshold and declined at or above
  it. The guard's own reasons stay on the decision, so the risk engine's view is kept.

Customers and third parties acting for one are untouched: their step-ups are real.
"""

from __future__ import annotations

from collections.abc import Mapping

from finbridge.banking.guard import GuardDecision, PostingIntent, Verdict
from finbridge.banking.models import EntryKind
from finbridge.core.money import Money
from finbridge.core.principal import Principal, PrincipalKind

# Movements that can wait, as a pending approval, for a second operator.
WAITABLE = frozenset(k.value for k in (EntryKind.TRANSFER, EntryKind.WITHDRAWAL, EntryKind.DEPOSIT))
_STAFF = (PrincipalKind.OPERATOR, PrincipalKind.SYSTEM)
_ASKS_A_PERSON = (Verdict.STEP_UP, Verdict.DUAL_CONTROL)


def threshold_reached(
    actor: Principal, kind: str, amount: Money, thresholds: Mapping[str, Money]
) -> str | None:
    """Why an operator's ``kind`` movement of ``amount`` needs a second operator whatever any
    guard says, or None."""
    if actor.kind is not PrincipalKind.OPERATOR or kind not in WAITABLE:
        return None
    threshold = thresholds.get(amount.code)
    if threshold is None or amount < threshold:
        return None
    return f"dual control: an operator's {kind} of {threshold} or more needs a second operator"


def operator_policy(
    intent: PostingIntent, decision: GuardDecision, thresholds: Mapping[str, Money]
) -> GuardDecision:
    """``decision`` as it applies to ``intent``'s actor (see the module's rules)."""
    actor = intent.actor
    if actor.kind not in _STAFF or decision.verdict is Verdict.DECLINE:
        return decision
    due = threshold_reached(actor, intent.kind, intent.amount, thresholds)
    if due is not None:
        return _with(decision, Verdict.DUAL_CONTROL, due)
    if decision.verdict not in _ASKS_A_PERSON:
        return decision
    if actor.kind is PrincipalKind.OPERATOR and intent.kind in WAITABLE:
        why = "operator policy: a second operator reviews it instead of a step-up"
        return _with(decision, Verdict.DUAL_CONTROL, why)
    threshold = thresholds.get(intent.amount.code)
    if threshold is not None and intent.amount >= threshold:
        why = f"operator policy: {threshold} or more needs a second operator and this cannot wait"
        return _with(decision, Verdict.DECLINE, why)
    return _with(decision, Verdict.APPROVE, "operator policy: approved on the actor's authority")


def _with(decision: GuardDecision, verdict: Verdict, why: str) -> GuardDecision:
    return GuardDecision(verdict, (*decision.reasons, why), decision.version)
