"""Identity as banking's posting guard: money movement asks for identity's step-up state.

Wraps another guard (the risk engine's, or approve-all) so that
- a customer's transfer at or above the large-transfer limit of its currency needs a fresh
  second factor (action ``transfer.large``), and
- when the inner guard answers ``step_up``, the posting is approved only if the customer's
  session already holds a fresh second factor; otherwise banking raises ``StepUpRequired`` and
  the client performs identity's step-up (TOTP, passkey or face + liveness) and retries.
The decision rests on the server-side session state, never on anything the client claims. Face
alone never passes (money actions: see :mod:`finbridge.identity.stepup`).

Banking owns the guard protocol and its value objects; they are imported when a guard is built,
not when identity is, so ``import finbridge.identity`` does not load the banking engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from finbridge.core.errors import StepUpRequired
from finbridge.core.money import Money
from finbridge.core.principal import PrincipalKind
from finbridge.identity.stepup import StepUpService

if TYPE_CHECKING:
    from finbridge.banking.guard import GuardDecision, PostingGuard, PostingIntent

VERSION = "identity-step-up-v1"
_SUFFIX = f"+{VERSION}"
_CONFIRMED = "second factor confirmed"
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
        from finbridge.banking.guard import ApproveAll, GuardDecision, Verdict

        self._decision, self._verdict = GuardDecision, Verdict
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
            return self._decision(
                self._verdict.STEP_UP,
                (f"payments of {limit} or more need a fresh second factor",),
                VERSION,
            )
        decision = self.inner.check(intent)
        if decision.verdict is self._verdict.STEP_UP and self._fresh(
            intent, f"transfer.{intent.kind}", demanded=True
        ):
            return self._decision(
                self._verdict.APPROVE,
                (*decision.reasons, _CONFIRMED),
                f"{decision.version}{_SUFFIX}",
            )
        return decision

    def check_many(self, intents: Sequence[PostingIntent]) -> list[GuardDecision]:
        """Batches (the card replay) are posted by operators, so the inner guard decides them;
        a customer's intent in a batch still gets the per-intent step-up rules."""
        from finbridge.banking.guard import check_many

        if any(i.actor.kind is PrincipalKind.CUSTOMER for i in intents):
            return [self.check(i) for i in intents]
        return check_many(self.inner, intents)

    def settle(
        self, intent: PostingIntent, decision: GuardDecision, *, posted: bool, reason: str | None
    ) -> None:
        """Pass the posting's outcome to the inner guard, with the decision the inner guard made.

        A step-up this guard confirmed turned the inner ``step_up`` into ``approve``; the inner
        guard (risk) finds its own decision by its version, so it gets its decision back.
        """
        if decision.version == VERSION:
            return  # this guard's own refusal: nothing was posted, the inner guard never ran
        if decision.version.endswith(_SUFFIX) and decision.reasons[-1:] == (_CONFIRMED,):
            decision = self._decision(
                self._verdict.STEP_UP,
                decision.reasons[:-1],
                decision.version.removesuffix(_SUFFIX),
            )
        self.inner.settle(intent, decision, posted=posted, reason=reason)
