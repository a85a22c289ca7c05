"""Monthly spending by category, from the customer's own ledger history.

The ledger knows what kind of entry moved the money (card payment, transfer, withdrawal...),
not a merchant category, so the category is the kind of outflow. Money moved between the
customer's own accounts is not spending: it appears as a debit here and a credit there within
the same journal entry, so entries that also credit one of the customer's accounts are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from zoneinfo import ZoneInfo

from finbridge.app.i18n import N_
from finbridge.banking import Account, EntryKind, HistoryItem
from finbridge.core.principal import Principal
from finbridge.platform import Platform

# The history is read newest first, page by page, until it is older than the window; this bound
# keeps one page view cheap for a customer with years of card payments.
MAX_POSTINGS = 5000
PAGE = 200

OTHER = N_("Other")
CATEGORY: dict[EntryKind, str] = {
    EntryKind.CARD_PAYMENT: N_("Card payments"),
    EntryKind.TRANSFER: N_("Transfers"),
    EntryKind.WITHDRAWAL: N_("Cash"),
    EntryKind.HOLD_CAPTURE: N_("Payments"),
    EntryKind.JOURNAL: OTHER,
}


@dataclass(frozen=True, slots=True)
class Spending:
    currency: str
    months: list[str]  # "2026-07", oldest first
    by_category: dict[str, list[Decimal]]  # category -> one amount per month
    truncated: bool  # the bound was reached before the window's start

    @property
    def empty(self) -> bool:
        return not any(v for values in self.by_category.values() for v in values)


def month_keys(today: date, months: int) -> list[str]:
    keys: list[str] = []
    year, month = today.year, today.month
    for _ in range(months):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return keys[::-1]


def _history(
    platform: Platform, actor: Principal, account: Account, oldest: str, tz: ZoneInfo
) -> tuple[list[HistoryItem], bool]:
    items: list[HistoryItem] = []
    cursor: str | None = None
    while len(items) < MAX_POSTINGS:
        page = platform.banking.history(actor, account.id, limit=PAGE, cursor=cursor)
        items.extend(page.items)
        if not page.items or page.next_cursor is None:
            return items, False
        last = page.items[-1].created_at.astimezone(tz)
        if f"{last.year:04d}-{last.month:02d}" < oldest:
            return items, False
        cursor = page.next_cursor
    return items, True


def monthly_spending(
    platform: Platform,
    actor: Principal,
    accounts: list[Account],
    currency: str,
    today: date,
    tz: ZoneInfo,
    months: int = 6,
) -> Spending:
    keys = month_keys(today, months)
    index = {k: i for i, k in enumerate(keys)}
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * months)
    truncated = False
    mine = [a for a in accounts if a.currency == currency]
    debits: list[HistoryItem] = []
    credited_entries: set[str] = set()
    for account in mine:
        items, cut = _history(platform, actor, account, keys[0], tz)
        truncated = truncated or cut
        for item in items:
            if item.amount.amount > 0:
                credited_entries.add(item.entry_id)
            else:
                debits.append(item)
    for item in debits:
        if item.entry_id in credited_entries:
            continue  # between the customer's own accounts
        local = item.created_at.astimezone(tz)
        slot = index.get(f"{local.year:04d}-{local.month:02d}")
        if slot is None:
            continue
        category = CATEGORY.get(item.kind, OTHER)
        sums[category][slot] += -item.amount.amount
    return Spending(currency, keys, dict(sorted(sums.items())), truncated)
