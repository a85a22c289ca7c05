"""What a line owes, by bucket, and how money moves between buckets (pure functions).

The ledger knows one balance per line; lending splits what is owed into buckets because they
are treated differently: fees and interest never bear interest, cash bears it from day one,
purchases only once the statement's grace period is lost (they move to ``revolving``). A
positive ledger balance is the customer's ``credit`` (an overpayment).

Instalments: ``instalment`` is plan principal not yet billed (owed, but due only as its periods
bill, so no payment waterfall reaches it: early settlement is its own request), and
``instalment_due`` is principal billed by a period and due with its statement.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

OWED_PARTS = (
    "fees", "interest", "revolving", "cash", "purchases", "instalment_due", "instalment",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Buckets:
    fees: int = 0
    interest: int = 0
    revolving: int = 0
    cash: int = 0
    purchases: int = 0
    credit: int = 0
    instalment_due: int = 0
    instalment: int = 0

    @property
    def owed(self) -> int:
        return sum(getattr(self, p) for p in OWED_PARTS)

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

    def convert(self, amount: int) -> Buckets:
        """Move purchase principal into an instalment plan (unbilled): purchases first, then
        principal that already lost its grace period. Owed is unchanged."""
        if amount > self.purchases + self.revolving:
            raise ValueError("more principal converted than the line owes")
        from_purchases = min(self.purchases, amount)
        return replace(
            self,
            purchases=self.purchases - from_purchases,
            revolving=self.revolving - (amount - from_purchases),
            instalment=self.instalment + amount,
        )

    def bill_instalment(self, amount: int) -> Buckets:
        """A period bills: unbilled principal becomes due (a credit balance absorbs it)."""
        billed = replace(self, instalment=self.instalment - amount)
        return billed.charge("instalment_due", amount)

    def settle_instalment(self, amount: int) -> Buckets:
        """Early settlement pays unbilled principal; anything beyond it becomes credit."""
        take = min(self.instalment, amount)
        return replace(self, instalment=self.instalment - take, credit=self.credit + amount - take)

    def as_columns(self) -> dict[str, int]:
        return {f"{p}_minor": getattr(self, p) for p in (*OWED_PARTS, "credit")}


# A refund reverses a purchase: it reduces purchase principal before anything else.
REFUND_ORDER = ("purchases", "revolving", "cash", "interest", "fees", "instalment_due")


def waterfall(order: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """A product's payment order; products written before instalments existed pay instalment
    principal due right after interest (the issue's order: fees, interest, instalment
    principal due, statement principal)."""
    parts = tuple(order)
    if "instalment_due" in parts:
        return parts
    at = parts.index("interest") + 1 if "interest" in parts else 0
    return (*parts[:at], "instalment_due", *parts[at:])
