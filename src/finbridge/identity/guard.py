"""Identity as banking's posting guard: money movement asks for identity's step-up state.

Wraps another guard (the risk engine's, or approve-all) so that
- a customer's transfer at or above the large-transfer limit of its currency needs a fresh
  second factor (action ``transfer.large``), and
- when the inner guard answers ``step_up``, the posting is approved only if the customer's
  session already holds a fresh second factor; otherwise banking raises ``StepUpRequired`` and
  the client performs identity's step-up (TOTP, passkey or face + liveness) and retries.
The decision rests on the server-side session state, never on anything the client claims. Face
alone never passes (money actions: see :mod:`finbridge.identity.stepup`).
"""

from __future__ import annotations

from collections.abc import Mapping

from finbridge.banking.guard import ApproveAll, GuardDecision, PostingGuard, PostingIntent, Verdict
from finbridge.core.errors import StepUpRequired
from finbridge.core.money import Money
from finbridge.core.principal import PrincipalKind
from finbridge.identity.stepup import StepUpService

VERSION = "identity-step-up-v1"
LARGE_TRANSFER: Mapping[str, Money] = {
    "CNY": Money.of("50000", "CNY"),
    "HKD": Money.of("50000", "HKD"),
    "USD": Money.of("5000", "USD"),
    "EUR": Money.of("5000", "EUR"),
    "TWD": Money.of("200000", "TWD"),
}


class StepUpGuard:
    """Implements banking's ``PostingGuard`` protocol on top of another guard."""

    def __init__(
        self,
        step_up: StepUpService,
        inner: PostingGuard | None = None,
        large: Mapping[str, Money] | None = None,
    ) -> None:
        self.step_up = step_up
        self.inner: PostingGuard = inner or ApproveAll()
        self.large = dict(LARGE_TRANSFER if large is None else large)

    def _fresh(self, intent: PostingIntent, action: str, demanded: bool) -> bool:
        try:
            self.step_up.require_step_up(intent.actor, action, demanded=demanded)
        except StepUpRequired:
            return False
        return True

    def check(self, intent: PostingIntent) -> GuardDecision:
        if intent.actor.kind is not PrincipalKind.CUSTOMER:
            return self.inner.check(intent)
        limit = self.large.get(intent.amount.code)
        large = limit is not None and intent.amount >= limit
        if large and not self._fresh(intent, "transfer.large", demanded=False):
            return GuardDecision(
                Verdict.STEP_UP,
                (f"payments of {limit} or more need a fresh second factor",),
                VERSION,
            )
        decision = self.inner.check(intent)
        if decision.verdict is Verdict.STEP_UP and self._fresh(
            intent, f"transfer.{intent.kind}", demanded=True
        ):
            return GuardDecision(
                Verdict.APPROVE,
                (*decision.reasons, "second factor confirmed"),
                f"{decision.version}+{VERSION}",
            )
        return decision
