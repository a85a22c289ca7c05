"""The payments face and the ports the platform fills for it: identity's phone directory,
risk's case queue (a screening hit opens a case; the analyst's verdict comes back) and
lending's credit lines (a merchant paid from a line is a purchase on it)."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from finbridge.core.money import Money
from finbridge.core.principal import Principal

if TYPE_CHECKING:
    from finbridge.payments import LinePurchase, PaymentsService
    from finbridge.platform._root import Platform
    from finbridge.risk import Case

_ACTOR = Principal.system("payments")


class _PhoneDirectory:
    """Payments' ``CustomerDirectory``: identity finds a customer by mobile number through its
    blind index; payments never sees a phone number it was not given."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def customer_by_phone(self, phone: str) -> str | None:
        return self._platform.identity.persons.find_by_phone(phone)


class RiskCaseQueue:
    """Payments' ``CaseQueue``: a screening hit becomes a case in risk's review queue (built on
    first use, so payments alone never loads risk)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def open_case(self, *, subject_id: str, customer_id: str, summary: str) -> str | None:
        from finbridge.payments import SCREENING_ORIGIN

        case = self._platform.risk.open_case(
            _ACTOR, origin=SCREENING_ORIGIN, subject_id=subject_id, customer_id=customer_id,
            summary=summary,
        )  # fmt: skip
        return case.id

    def close_case(self, actor: Principal, case_id: str, *, release: bool, note: str) -> None:
        from finbridge.core.errors import Conflict

        # Already closed in risk's queue: its verdict came back already.
        with contextlib.suppress(Conflict):
            self._platform.risk.cases.close(
                actor, case_id, "release" if release else "confirm", note
            )


class ScreeningCaseResolver:
    """Risk's ``CaseResolver`` for payments' screening cases: ``release`` sends the transfer on,
    ``confirm`` (a true match) blocks it and gives the held funds back."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def case_closed(self, case: Case, actor: Principal) -> None:
        if case.subject_id is None:
            return
        note = f"risk case {case.id[:8]} closed by {actor.id}: {case.resolution}"
        self._platform.payments.crossborder.case_closed(
            case.subject_id, release=case.resolution == "release", note=note
        )


class LendingLines:
    """Payments' ``CreditLines``: lending's purchase flow (built on first use, so payments
    alone never loads lending). The hold is placed as the paying customer, so the posting guard
    (risk, then step-up) judges them; lending captures as the bank."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def line_of(self, customer_id: str, account_id: str) -> str | None:
        lines = self._platform.lending.lines(_ACTOR, customer_id=customer_id)
        return next((x.id for x in lines if x.account_id == account_id), None)

    def purchase(
        self, actor: Principal, line_id: str, amount: Money, *, merchant: str, idempotency_key: str
    ) -> LinePurchase:
        from finbridge.core.errors import Conflict
        from finbridge.payments import LinePurchase

        lending = self._platform.lending
        bought = lending.authorise_purchase(
            actor, line_id, amount, merchant=merchant, idempotency_key=idempotency_key
        )
        guard_key = lending.purchase_hold_key(line_id, idempotency_key)
        try:
            lending.capture_purchase(_ACTOR, bought.id, idempotency_key=idempotency_key)
        except BaseException:
            # One outcome for the purchase and its hold: voided (the hold given back, the
            # purchase released) for a payment that did not happen, unless the ledger had
            # taken the capture and only lending's booking failed: then the same idempotent
            # capture completes the booking and the payment goes on.
            try:
                lending.void_purchase(_ACTOR, bought.id, reason="payment failed")
            except Conflict:
                lending.capture_purchase(_ACTOR, bought.id, idempotency_key=idempotency_key)
                return LinePurchase(bought.id, guard_key)
            raise
        return LinePurchase(bought.id, guard_key)

    def refund(self, purchase_id: str, amount: Money, *, idempotency_key: str) -> None:
        self._platform.lending.refund(_ACTOR, purchase_id, amount, idempotency_key=idempotency_key)


def build_payments(platform: Platform) -> PaymentsService:
    from finbridge.payments import PaymentsService

    return PaymentsService.build(
        platform.engine, platform.clock, platform.settings,
        banking=platform.banking, directory=_PhoneDirectory(platform),
        cases=RiskCaseQueue(platform), lines=LendingLines(platform),
    )  # fmt: skip
