"""Paying a merchant from a credit line: lending's purchase flow, reached through a port.

A credit line is a banking account floored below zero whose every movement lending books
(statements, interest, the repayment waterfall). So payments never posts on a line itself: the
platform's :class:`CreditLines` places a purchase on the line (a hold, judged by the posting
guard: risk, then step-up) and captures it into the bank's card settlement account; payments then
moves that money on to the merchant, net of the fee, as for a deposit payment. A refund goes the
other way: the merchant's share and the fee back to card settlement, then lending refunds the
purchase onto the line (its statement shows the refund).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from finbridge.core.money import Money
from finbridge.core.principal import Principal


@dataclass(frozen=True, slots=True)
class LinePurchase:
    """A purchase lending placed and captured for a payment.

    ``guard_key`` is the idempotency key the customer's hold on the line was placed under. The
    posting guard decided the payment there, keyed by the customer and that key; the entry that
    passes the money on to the merchant is posted at the customer's request under the same key,
    so the guard meets the decision it already took (risk returns the stored decision and counts
    nothing twice in its windows) instead of deciding a second time."""

    purchase_id: str
    guard_key: str


class CreditLines(Protocol):
    """Port the platform fills from lending's face."""

    def line_of(self, customer_id: str, account_id: str) -> str | None:
        """The credit line whose ledger account is ``account_id`` (None: not a line)."""
        ...

    def purchase(
        self, actor: Principal, line_id: str, amount: Money, *, merchant: str, idempotency_key: str
    ) -> LinePurchase:
        """Hold ``amount`` on the line as ``actor`` and capture it into card settlement, as one
        outcome: if the capture fails the hold is given back and the purchase released (or, if
        the ledger took the capture and only its booking failed, the booking is completed)."""
        ...

    def refund(self, purchase_id: str, amount: Money, *, idempotency_key: str) -> None:
        """Credit ``amount`` of a captured purchase back to its line from card settlement."""
        ...


class NoCreditLines:
    """Without lending no account is a line that can pay: floored accounts stay refused."""

    def line_of(self, customer_id: str, account_id: str) -> str | None:
        return None

    def purchase(
        self, actor: Principal, line_id: str, amount: Money, *, merchant: str, idempotency_key: str
    ) -> LinePurchase:  # pragma: no cover - line_of never names a line
        raise NotImplementedError

    def refund(
        self, purchase_id: str, amount: Money, *, idempotency_key: str
    ) -> None:  # pragma: no cover
        raise NotImplementedError
