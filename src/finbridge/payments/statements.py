"""An account's end-of-day statement as ISO 20022 camt.053 (XSD-valid, see iso20022/camt053).

The ledger is the truth: the day's postings (business day in the bank's time zone) are read
from banking's account history, the opening balance is the balance after the last posting
before the day, and the statement refuses to exist unless opening + entries = the balance after
the day's last posting.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from finbridge.banking import BankingService, HistoryItem
from finbridge.core.clock import Clock
from finbridge.core.errors import Conflict, NotFound
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.payments._common import PLATFORM, aware, is_customer
from finbridge.payments.iso20022.camt053 import StatementEntry, camt053


class StatementDesk:
    def __init__(
        self, clock: Clock, banking: BankingService, *, bank_bic: str, business_timezone: str
    ) -> None:
        self.clock, self.banking = clock, banking
        self.bank_bic, self.tz = bank_bic, business_timezone

    def camt053(self, actor: Principal, account_id: str, day: date) -> bytes:
        """The camt.053 of ``account_id`` for business day ``day`` (a finished day only)."""
        if not is_customer(actor):
            actor.require_scope("accounts:read")
        try:
            account = self.banking.get_account(actor, account_id)  # customers: their own only
        except NotFound:
            raise NotFound(f"account {account_id} not found", field="account_id") from None
        if account.customer_id is None:
            raise NotFound(f"account {account_id} not found", field="account_id")
        zone = ZoneInfo(self.tz)
        start = datetime.combine(day, time(0), zone)
        end = start + timedelta(days=1)
        now = self.clock.now()
        if end > now:
            raise Conflict(f"{day} is not over yet in {self.tz}", field="date")
        items, before = self._day(account.id, start, end)
        zero = Money.zero(account.currency)
        opening = (before.balance_after if before is not None else zero).amount
        entries = [
            StatementEntry(
                x.entry_id, x.amount.amount, aware(x.created_at), x.kind.value, x.description
            )
            for x in items
        ]
        if items and opening + sum(e.amount for e in entries) != items[-1].balance_after.amount:
            raise Conflict("the day's postings do not add up to the ledger balance", field="date")
        return camt053(
            f"FBS{new_id().replace('-', '')[:28]}", now, account_id=account.id,
            currency=account.currency, day=day, period=(start, end - timedelta(seconds=1)),
            opening=opening, entries=entries, servicer_bic=self.bank_bic,
        )  # fmt: skip

    def _day(
        self, account_id: str, start: datetime, end: datetime
    ) -> tuple[list[HistoryItem], HistoryItem | None]:
        """The day's postings, oldest first, and the last posting before the day."""
        day: list[HistoryItem] = []
        cursor: str | None = None
        while True:
            page = self.banking.history(PLATFORM, account_id, limit=200, cursor=cursor)
            for item in page.items:  # newest first
                at = aware(item.created_at)
                if at >= end:
                    continue
                if at < start:
                    return day[::-1], item
                day.append(item)
            if page.next_cursor is None:
                return day[::-1], None
            cursor = page.next_cursor
