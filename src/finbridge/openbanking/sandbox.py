"""The sandbox: synthetic customers and accounts for sandbox apps, so a developer can run the
whole FAPI flow without a token ever touching real data.

The data is generated from a fixed seed (the same customers, accounts, amounts and texts in
every database), dated back from the day it is first used so consents' date windows hold on
any date. It lives in its own tables: the sandbox never calls banking, so a sandbox grant has
no path to a real account, and a real grant's accounts come from banking's ownership check, so
it cannot name a sandbox one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from finbridge.banking import Account, AccountKind, AccountStatus, Balance, EntryKind, HistoryItem
from finbridge.core.clock import Clock
from finbridge.core.errors import InsufficientFunds, NotFound, ValidationError
from finbridge.core.money import Money
from finbridge.openbanking.consents import aware
from finbridge.openbanking.tables import SandboxAccountRow, SandboxPostingRow
from finbridge.store.engine import unit_of_work

SEED = 18_2026
PREFIX = "sbx_"
# (customer, [(account kind, currency, opening balance)]): names say they are not people.
_CUSTOMERS = {
    "sbx_customer_ada": [("current", "CNY", 12_000_00), ("savings", "CNY", 50_000_00)],
    "sbx_customer_bo": [("current", "CNY", 3_500_00), ("current", "USD", 800_00)],
    "sbx_customer_cai": [("current", "HKD", 9_000_00)],
}
_MERCHANTS = ("Sandbox Grocer", "Sandbox Metro", "Sandbox Coffee", "Sandbox Books",
              "Sandbox Utilities", "Sandbox Salary")  # fmt: skip
_POSTINGS = 40
_DAYS = 90


@dataclass(frozen=True, slots=True)
class SandboxCustomer:
    id: str
    accounts: tuple[Account, ...]


def is_sandbox_id(value: str) -> bool:
    return value.startswith(PREFIX)


class SandboxBank:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def seed(self) -> int:
        """Create the synthetic data once (a no-op when present); the number of postings."""
        try:
            return self._seed()
        except IntegrityError:
            return 0  # another server seeded it at the same moment (PostgreSQL: no table lock)

    def _seed(self) -> int:
        now = self._clock.now()
        rng = random.Random(SEED)
        with unit_of_work(self._engine) as session:
            if session.scalar(select(func.count()).select_from(SandboxAccountRow)):
                return 0
            made = 0
            for customer, accounts in _CUSTOMERS.items():
                for n, (kind, currency, opening) in enumerate(accounts, start=1):
                    account_id = f"{customer}_{n}"
                    balance = opening
                    start = now - timedelta(days=_DAYS)
                    rows = [SandboxPostingRow(account_id=account_id, seq=0, booked_at=start,
                                              amount_minor=opening, balance_after_minor=opening,
                                              description="Opening balance")]  # fmt: skip
                    offsets = sorted(rng.uniform(0.5, _DAYS - 0.5) for _ in range(_POSTINGS))
                    for seq, days in enumerate(offsets, start=1):
                        merchant = rng.choice(_MERCHANTS)
                        size = rng.randint(5_00, 400_00)
                        amount = size * 10 if merchant == "Sandbox Salary" else -size
                        if balance + amount < 0:
                            amount = -amount
                        balance += amount
                        rows.append(
                            SandboxPostingRow(
                                account_id=account_id,
                                seq=seq,
                                booked_at=start + timedelta(days=days),
                                amount_minor=amount,
                                balance_after_minor=balance,
                                description=merchant,
                            )
                        )
                    session.add(
                        SandboxAccountRow(
                            id=account_id,
                            customer_id=customer,
                            kind=kind,
                            currency=currency,
                            balance_minor=balance,
                            created_at=start,
                        )
                    )
                    session.add_all(rows)
                    made += len(rows)
            return made

    def customers(self) -> list[SandboxCustomer]:
        self.seed()
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(select(SandboxAccountRow).order_by(SandboxAccountRow.id)).all()
        found: dict[str, list[Account]] = {}
        for row in rows:
            found.setdefault(row.customer_id, []).append(_account(row))
        return [SandboxCustomer(c, tuple(a)) for c, a in found.items()]

    def currencies(self, customer_id: str) -> dict[str, str]:
        """The customer's sandbox accounts and their currencies (what a consent may name)."""
        return {
            a.id: a.currency for c in self.customers() if c.id == customer_id for a in c.accounts
        }

    def every_account(self) -> dict[str, str]:
        """Every sandbox account and its currency (what a sandbox payment may pay to)."""
        return {a.id: a.currency for c in self.customers() for a in c.accounts}

    def transfer(
        self, debtor: str, creditor: str, amount: Money, *, reference: str, description: str
    ) -> str:
        """Move synthetic money between two sandbox accounts: both balances and a posting on
        each, in one transaction; the entry's id. Never banking: no real ledger is touched."""
        if debtor == creditor:
            raise ValidationError("pay another account", field="creditor_account")
        text = (description or "Sandbox payment")[:140]
        with unit_of_work(self._engine) as session:
            # Both rows locked in id order (PostgreSQL; SQLite's write lock serialises anyway),
            # so two payments crossing between the same accounts cannot deadlock.
            rows = {
                account_id: session.get(SandboxAccountRow, account_id, with_for_update=True)
                for account_id in sorted((debtor, creditor))
            }
            paying, paid = rows[debtor], rows[creditor]
            if paying is None or paid is None:
                raise NotFound("no such sandbox account", field="creditor_account")
            if amount.code != paying.currency or amount.code != paid.currency:
                raise ValidationError("both accounts must be in the amount's currency",
                                      field="currency")  # fmt: skip
            if paying.balance_minor < amount.minor:
                raise InsufficientFunds("the sandbox account's balance is too low",
                                        field="amount")  # fmt: skip
            now = self._clock.now()
            for row, delta in ((paying, -amount.minor), (paid, amount.minor)):
                row.balance_minor += delta
                session.add(
                    SandboxPostingRow(
                        account_id=row.id, seq=_next_seq(session, row.id), booked_at=now,
                        amount_minor=delta, balance_after_minor=row.balance_minor,
                        description=text,
                    )
                )  # fmt: skip
        return f"sbx:{reference}"

    def account(self, account_id: str) -> Account:
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(SandboxAccountRow, account_id)
        if row is None:
            raise NotFound("no such sandbox account", field="account_id")
        return _account(row)

    def balance(self, account_id: str) -> Balance:
        a = self.account(account_id)
        zero = Money.zero(a.currency)
        return Balance(a.id, a.currency, a.balance, zero, a.balance, zero)

    def history(
        self, account_id: str, start: datetime, end: datetime, limit: int
    ) -> list[HistoryItem]:
        """Postings in ``[start, end)``, newest first."""
        currency = self.account(account_id).currency
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(
                select(SandboxPostingRow)
                .where(SandboxPostingRow.account_id == account_id,
                       SandboxPostingRow.booked_at >= start, SandboxPostingRow.booked_at < end)
                .order_by(SandboxPostingRow.booked_at.desc(), SandboxPostingRow.seq.desc())
                .limit(limit)
            ).all()  # fmt: skip
        return [
            HistoryItem(
                posting_id=r.seq,
                entry_id=f"{r.account_id}:{r.seq}",
                kind=EntryKind.OPENING_BALANCE if r.seq == 0 else EntryKind.CARD_PAYMENT,
                amount=Money.from_minor(r.amount_minor, currency),
                balance_after=Money.from_minor(r.balance_after_minor, currency),
                description=r.description,
                created_at=aware(r.booked_at),
            )
            for r in rows
        ]


def _next_seq(session: Session, account_id: str) -> int:
    last = session.scalar(
        select(func.max(SandboxPostingRow.seq)).where(SandboxPostingRow.account_id == account_id)
    )
    return int(last or 0) + 1


def _account(row: SandboxAccountRow) -> Account:
    zero = Money.zero(row.currency)
    return Account(
        id=row.id, customer_id=row.customer_id, kind=AccountKind(row.kind),
        currency=row.currency, status=AccountStatus.OPEN,
        balance=Money.from_minor(row.balance_minor, row.currency), held=zero, floor=zero,
        created_at=aware(row.created_at),
    )  # fmt: skip
