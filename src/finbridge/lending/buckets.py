"""What a line owes, by bucket, and how money moves between buckets (pure functions).

The ledger knows one balance per line; lending splits what is owed into buckets because they
are treated differently: fees and interest never bear interest, cash bears it from day one,
purchases only once the statement's grace period is lost (they move to ``revolving``). A
positive ledger balance is the customer's ``credit`` (an overpayment).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

OWED_PARTS = ("fees", "interest", "revolving", "cash", "purchases")


@dataclass(frozen=True, slots=True)
class Buckets:
    fees: int = 0
    interest: int = 0
    revolving: int = 0
    cash: int = 0
    purchases: int = 0
    credit: int = 0

    @property
    def owed(self) -> int:
        return self.fees + self.interest + self.revolving + self.cash + self.purchases

    @property
    def ledger_balance(self) -> int:
        """What the line's ledger balance must be (minor units, negative when owed)."""
        return self.credit - self.owed

    def charge(self, part: str, amount: int) -> Buckets:
        """Add ``amount`` owed to ``part``; an existing credit balance absorbs it first."""
        used = min(self.credit, amount)
        return replace(
            self, credit=self.credit - used, **{part: getattr(self, part) + amount - used}
        )

    def pay(self, amount: int, order: tuple[str, ...]) -> tuple[Buckets, dict[str, int]]:
        """Apply a payment (or a refund) along ``order``; what is left becomes credit."""
        left = amount
        values = {p: getattr(self, p) for p in OWED_PARTS}
        applied: dict[str, int] = {}
        for part in order:
            take = min(values[part], left)
            if take:
                values[part] -= take
                applied[part] = take
                left -= take
        if left:
            applied["credit"] = left
        return Buckets(credit=self.credit + left, **values), applied

    def as_columns(self) -> dict[str, int]:
        return {f"{p}_minor": getattr(self, p) for p in (*OWED_PARTS, "credit")}


# A refund reverses a purchase: it reduces purchase principal before anything else.
REFUND_ORDER = ("purchases", "revolving", "cash", "interest", "fees")
