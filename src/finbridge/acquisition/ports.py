"""What acquisition needs from other engines, as small protocols the platform fills.

Acquisition never imports identity, advisory or credit: ``platform/_root.py`` wires their faces
into these ports. The defaults are the safe answers for a platform without that engine: no
consent (so no marketing use at all), nothing above risk level R1, no credit offers, no inbox
beyond acquisition's own delivery records, no portfolio figures.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

MARKETING = "marketing"


class ConsentPort(Protocol):
    def consented(self, customer_ids: Collection[str], purpose: str) -> set[str]:
        """The customers among ``customer_ids`` whose consent to ``purpose`` holds now."""
        ...


class SuitabilityPort(Protocol):
    def allows(self, customer_id: str, risk_level: int) -> bool:
        """May this customer be offered a product of risk level R``risk_level`` (1..5)?"""
        ...

    def level_as_of(self, customer_id: str, as_of: datetime) -> int | None:
        """The highest level (1..5, as :meth:`allows` answers) the customer's investor
        category allowed at ``as_of``, or None when that is not known any more (a newer
        assessment replaced it)."""
        ...


class CreditDecisionPort(Protocol):
    def approved(self, customer_id: str, *, as_of: datetime | None = None) -> bool:
        """Does an approving credit decision exist for this customer now (or, ``as_of``
        given, did one made before that instant hold then)?"""
        ...


@dataclass(frozen=True)
class InboxMessage:
    customer_id: str
    title: str
    body: str
    reference: str  # the delivery id: a retried batch lands once
    link: str | None = None  # a same-site app path (the message's deep link)


class InboxPort(Protocol):
    def deliver_many(self, messages: Sequence[InboxMessage]) -> None:
        """Put each message in its customer's in-app inbox, once per ``reference``, in one
        batch (a campaign delivers tens of thousands at a time)."""
        ...


@dataclass(frozen=True)
class PortfolioSummary:
    currency: str
    total: Decimal
    change: Decimal  # since the previous local day's start
    accounts: int


class PortfolioPort(Protocol):
    def summary(
        self, customer_id: str, *, as_of: datetime | None = None
    ) -> PortfolioSummary | None:
        """Balances now, or (``as_of`` given) of the accounts and postings before that instant
        (``change`` then: the day before it)."""
        ...


class NoConsent:
    """Without a consent register nobody has consented: no marketing use of anyone's data."""

    def consented(self, customer_ids: Collection[str], purpose: str) -> set[str]:
        return set()


class UpToR1:
    """Until advisory publishes its suitability check: only the lowest risk level (R1)."""

    def allows(self, customer_id: str, risk_level: int) -> bool:
        return risk_level <= 1

    def level_as_of(self, customer_id: str, as_of: datetime) -> int | None:
        return 1


class NoCreditDecision:
    def approved(self, customer_id: str, *, as_of: datetime | None = None) -> bool:
        return False


class NoInbox:
    """Deliveries stay acquisition's own records (served under ``/v1/acquisition/inbox``)."""

    def deliver_many(self, messages: Sequence[InboxMessage]) -> None:
        return None


class NoPortfolio:
    def summary(
        self, customer_id: str, *, as_of: datetime | None = None
    ) -> PortfolioSummary | None:
        return None
