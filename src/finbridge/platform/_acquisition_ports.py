"""Acquisition's ports, filled from the other engines' faces (issue 17).

Acquisition declares what it needs (``finbridge.acquisition`` ports); this module adapts
identity (marketing consent, the customer inbox), advisory (the investor's category), credit
(the newest score) and banking (balances) to it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

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

    def level_as_of(self, customer_id: str, as_of: datetime) -> int | None:
        """Advisory keeps only the newest assessment in its face: when it was made before
        ``as_of`` and was expired then exactly as it is now, today's level is the level then;
        otherwise (assessed later, or it expired in between) the level then is not known."""
        advisory = self._platform.advisory
        try:
            profile = advisory.profile(_ACTOR, customer_id)
        except FinbridgeError:
            return 1  # never assessed (by now, so not by then either): R1, as ``allows``
        if profile.assessed_at >= as_of or (as_of >= profile.expires_at) != profile.expired:
            return None
        return max(1, advisory.suitable_level(_ACTOR, customer_id))


class CreditScores:
    """A credit decision for marketing: the newest score of the last 90 days in bands A-C."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform

    def approved(self, customer_id: str, *, as_of: datetime | None = None) -> bool:
        """Every score keeps its time, so ``as_of`` is exact: the newest score made before it."""
        try:
            scores = self._platform.credit.scores_for(_ACTOR, customer_id)
        except FinbridgeError:
            return False
        at = as_of or self._platform.clock.now()
        made = [(datetime.fromisoformat(s["created_at"]), s["band"]) for s in scores]
        before = [(when, band) for when, band in made if when.tzinfo is not None and when < at]
        if not before:
            return False
        when, band = max(before, key=lambda item: item[0])
        return band in APPROVING_BANDS and at - when <= SCORE_VALID


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

    def summary(
        self, customer_id: str, *, as_of: datetime | None = None
    ) -> PortfolioSummary | None:
        banking = self._platform.banking
        accounts = banking.list_accounts(_ACTOR, customer_id=customer_id).items
        if as_of is not None:
            return self._summary_as_of(accounts, as_of)
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

    def _summary_as_of(self, accounts: Sequence[Any], as_of: datetime) -> PortfolioSummary | None:
        """Each posting keeps the balance after it: an account's balance at ``as_of`` is that of
        its newest posting before it; accounts without a posting by then are not counted."""
        totals: dict[str, Decimal] = {}
        changes: dict[str, Decimal] = {}
        held = 0
        for acc in accounts:
            found = self._balance_as_of(acc.id, as_of)
            if found is None:
                continue
            held += 1
            totals[acc.currency] = totals.get(acc.currency, Decimal(0)) + found[0]
            changes[acc.currency] = changes.get(acc.currency, Decimal(0)) + found[1]
        if not totals:
            return None
        currency = max(totals, key=lambda c: totals[c])
        return PortfolioSummary(currency, totals[currency], changes[currency], held)

    def _balance_as_of(self, account_id: str, as_of: datetime) -> tuple[Decimal, Decimal] | None:
        """(balance, change over the day before) at ``as_of``: history pages, newest first,
        until a posting older than that day."""
        balance: Decimal | None = None
        change = Decimal(0)
        cursor: str | None = None
        day_before = as_of - timedelta(days=1)
        while True:
            page = self._platform.banking.history(_ACTOR, account_id, limit=200, cursor=cursor)
            for item in page.items:
                if item.created_at >= as_of:
                    continue
                if balance is None:
                    balance = item.balance_after.amount
                if item.created_at < day_before:
                    return balance, change
                change += item.amount.amount
            cursor = page.next_cursor
            if cursor is None:
                return None if balance is None else (balance, change)


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
