"""Acquisition's ports, filled from the other engines' faces (issue 17).

Acquisition declares what it needs (``finbridge.acquisition`` ports); this module adapts
identity (marketing consent, the customer inbox), advisory (the investor's category), credit
(the newest score) and banking (balances) to it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from finbridge.acquisition import AcquisitionService, InboxMessage, PortfolioSummary
from finbridge.core.errors import FinbridgeError
from finbridge.core.principal import Principal

if TYPE_CHECKING:
    from finbridge.platform._root import Platform

_ACTOR = Principal.system("acquisition")
APPROVING_BANDS = frozenset({"A", "B", "C"})
SCORE_VALID = timedelta(days=90)


class IdentityConsent:
    """Identity's consent records, asked at the moment of use: per customer for a few, one
    read of everyone consenting to the purpose for a campaign's thousands."""

    BULK = 50  # above this many customers one read of all consents beats a query each

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def consented(self, customer_ids: Collection[str], purpose: str) -> set[str]:
        consents = self._platform.identity.consents
        if len(customer_ids) > self.BULK:
            return consents.consenting_customers(purpose) & set(customer_ids)
        return {c for c in customer_ids if consents.has_consent(c, purpose)}


class AdvisorySuitability:
    """Advisory's live risk profile: category Cn allows products up to Rn. Without a live
    (unexpired) profile only R1, the level nobody is refused."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def allows(self, customer_id: str, risk_level: int) -> bool:
        if risk_level <= 1:
            return True  # acquisition's own floor: R1 offers need no profile
        try:
            return risk_level <= self._platform.advisory.suitable_level(_ACTOR, customer_id)
        except FinbridgeError:
            return False


class CreditScores:
    """A credit decision for marketing: the newest score of the last 90 days in bands A-C."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def approved(self, customer_id: str) -> bool:
        try:
            scores = self._platform.credit.scores_for(_ACTOR, customer_id)
        except FinbridgeError:
            return False
        if not scores:
            return False
        newest = max(scores, key=lambda s: s["created_at"])
        from datetime import datetime

        made = datetime.fromisoformat(newest["created_at"])
        if made.tzinfo is None:
            return False
        return (
            newest["band"] in APPROVING_BANDS and self._platform.clock.now() - made <= SCORE_VALID
        )


class IdentityInbox:
    """Identity's customer inbox, a batch per call (once per delivery id: a retried delivery
    is not doubled)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def deliver_many(self, messages: Sequence[InboxMessage]) -> None:
        from finbridge.identity import OutgoingMessage

        self._platform.identity.inbox.deliver_many(
            _ACTOR,
            "marketing",
            [
                OutgoingMessage(m.customer_id, m.title, m.body, m.reference, m.link)
                for m in messages
            ],
        )


class BankingPortfolio:
    """Balances of the customer's accounts in their largest currency; change = the postings of
    the last 24 hours on those accounts."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def summary(self, customer_id: str) -> PortfolioSummary | None:
        banking = self._platform.banking
        accounts = banking.list_accounts(_ACTOR, customer_id=customer_id).items
        if not accounts:
            return None
        totals: dict[str, Decimal] = {}
        for acc in accounts:
            totals[acc.currency] = totals.get(acc.currency, Decimal(0)) + acc.balance.amount
        currency = max(totals, key=lambda c: totals[c])
        since = self._platform.clock.now() - timedelta(days=1)
        change = Decimal(0)
        for acc in accounts:
            if acc.currency != currency:
                continue
            for item in banking.history(_ACTOR, acc.id, limit=100).items:
                if item.created_at >= since:
                    change += item.amount.amount
        return PortfolioSummary(currency, totals[currency], change, len(accounts))


def build_acquisition(platform: Platform) -> AcquisitionService:
    return AcquisitionService.build(
        platform.engine,
        platform.clock,
        platform.settings,
        lake=platform.events.lake,
        consent=IdentityConsent(platform),
        suitability=AdvisorySuitability(platform),
        credit=CreditScores(platform),
        inbox=IdentityInbox(platform),
        portfolio=BankingPortfolio(platform),
    )
