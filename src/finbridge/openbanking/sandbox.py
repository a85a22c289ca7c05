"""The sandbox: synthetic customers and accounts for sandbox apps, so a developer can run the
whole FAPI flow without a token ever touching real data.

Every developer has its own sandbox, seeded on first use from a fixed seed (the same customers,
accounts, amounts and texts for everyone), dated back from the day it is seeded so consents'
date windows hold on any date, and put back as seeded on request (``reset``). A sandbox grant
reads and pays only inside its app's developer's sandbox (every method takes the developer and
answers another's account as unknown). It lives in its own tables: the sandbox never calls
banking, so a sandbox grant has no path to a real account, and a real grant's accounts come
from banking's ownership check, so it cannot name a sandbox one.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from finbridge.banking import Account, AccountKind, AccountStatus, Balance, EntryKind, HistoryItem
from finbridge.core.clock import Clock
from finbridge.core.errors import InsufficientFunds, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.openbanking.consents import aware
from finbridge.openbanking.tables import SandboxAccountRow, SandboxPostingRow, SandboxRow
from finbridge.store.engine import unit_of_work

SEED = 18_2026
PREFIX = "sbx_"
# (customer, [(account kind, currency, opening balance)]): names say they are not people.
_CUSTOMERS = {
    "ada": [("current", "CNY", 12_000_00), ("savings", "CNY", 50_000_00)],
    "bo": [("current", "CNY", 3_500_00), ("current", "USD", 800_00)],
    "cai": [("current", "HKD", 9_000_00)],
}
_MERCHANTS = ("Sandbox Grocer", "Sandbox Metro", "Sandbox Coffee", "Sandbox Books",
              "Sandbox Utilities", "Sandbox Salary")  # fmt: skip
_POSTINGS = 40
_DAYS = 90
_NOT_FOUND = "no such sandbox account"


@dataclass(frozen=True, slots=True)
class SandboxCustomer:
    id: str
    accounts: tuple[Account, ...]


@dataclass(frozen=True, slots=True)
class Sandbox:
    """One developer's sandbox: whose it is, when it was seeded (or last reset), its data."""

    developer: str
    seeded_at: datetime
    customers: tuple[SandboxCustomer, ...]


def is_sandbox_id(value: str) -> bool:
    return value.startswith(PREFIX)


class SandboxBank:
    """Every developer's own sandbox. ``developer`` is the principal that registers the
    developer's sandbox apps (``App.owner_id``): a sandbox app's grants read and pay only
    inside its developer's sandbox, so one developer's payments never move another's balances.
    Each sandbox is seeded on first use from the same seed (the same customers, amounts and
    texts, dated back from that day); its ids begin ``sbx_<8 hex>_`` (``sbx_customer_`` for
    the one sandbox shared before there was one per developer, kept by its first developer)."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def seed(self, developer: str) -> int:
        """Create the developer's sandbox once (a no-op when present); the number of postings."""
        with unit_of_work(self._engine, write=False) as session:  # the usual case: a read
            if _box(session, _developer(developer)) is not None:
                return 0
        for _ in range(3):  # a prefix taken by another sandbox (1 in 2**32): draw another
            try:
                return self._seed(_developer(developer))
            except IntegrityError:
                with unit_of_work(self._engine, write=False) as session:
                    if _box(session, developer) is not None:
                        return 0  # another server seeded it at the same moment
        raise RuntimeError("no free sandbox prefix after three draws")  # pragma: no cover

    def _seed(self, developer: str) -> int:
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            if _box(session, developer) is not None:
                return 0
            box = SandboxRow(id=new_id(), owner_id=developer,
                             prefix=f"{PREFIX}{secrets.token_hex(4)}_", seeded_at=now)  # fmt: skip
            session.add(box)
            session.flush()  # the owner's and prefix's uniqueness first: a racing seed stops here
            accounts, postings = _generate(box, now)
            session.add_all(accounts)
            session.add_all(postings)
            return len(postings)

    def reset(self, developer: str) -> int:
        """Put the developer's sandbox back as seeded (dated back from now; the same ids, so
        its consents still name its accounts); the number of postings. Seeds it if absent.
        Other developers' sandboxes are not touched."""
        made = self.seed(developer)
        if made:
            return made  # seeded just now: nothing to put back
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            box = session.scalars(
                select(SandboxRow).where(SandboxRow.owner_id == developer).with_for_update()
            ).one()
            # Its accounts locked in id order, as a payment locks its two: a payment racing the
            # reset lands before it (and is undone) or after it (on the fresh balances).
            held = {
                row.id: row
                for row in session.scalars(
                    select(SandboxAccountRow)
                    .where(SandboxAccountRow.sandbox_id == box.id)
                    .order_by(SandboxAccountRow.id)
                    .with_for_update()
                )
            }
            session.execute(
                delete(SandboxPostingRow).where(SandboxPostingRow.account_id.in_(list(held)))
            )
            accounts, postings = _generate(box, now)
            for fresh in accounts:
                row = held.pop(fresh.id, None)
                if row is None:
                    session.add(fresh)
                else:
                    row.customer_id, row.kind, row.currency = (
                        fresh.customer_id, fresh.kind, fresh.currency
                    )  # fmt: skip
                    row.balance_minor, row.created_at = fresh.balance_minor, fresh.created_at
            for stray in held.values():  # an account the seed no longer makes
                session.delete(stray)
            session.add_all(postings)
            box.seeded_at = now
            return len(postings)

    def sandbox(self, developer: str) -> Sandbox:
        """The developer's sandbox, seeded on first use."""
        self.seed(developer)
        with unit_of_work(self._engine, write=False) as session:
            box = _box(session, developer)
            assert box is not None
            rows = session.scalars(
                select(SandboxAccountRow)
                .where(SandboxAccountRow.sandbox_id == box.id)
                .order_by(SandboxAccountRow.id)
            ).all()
        found: dict[str, list[Account]] = {}
        for row in rows:
            found.setdefault(row.customer_id, []).append(_account(row))
        customers = tuple(SandboxCustomer(c, tuple(a)) for c, a in found.items())
        return Sandbox(developer, aware(box.seeded_at), customers)

    def customers(self, developer: str) -> list[SandboxCustomer]:
        return list(self.sandbox(developer).customers)

    def currencies(self, developer: str, customer_id: str) -> dict[str, str]:
        """The customer's accounts in the developer's sandbox and their currencies (what a
        consent may name)."""
        return {
            a.id: a.currency
            for c in self.customers(developer)
            if c.id == customer_id
            for a in c.accounts
        }

    def every_account(self, developer: str) -> dict[str, str]:
        """Every account in the developer's sandbox and its currency (what a sandbox payment
        may pay to)."""
        return {a.id: a.currency for c in self.customers(developer) for a in c.accounts}

    def transfer(
        self,
        developer: str,
        debtor: str,
        creditor: str,
        amount: Money,
        *,
        reference: str,
        description: str,
    ) -> str:
        """Move synthetic money between two accounts of the developer's sandbox: both balances
        and a posting on each, in one transaction; the entry's id. An account of another
        developer's sandbox is unknown here. Never banking: no real ledger is touched."""
        if debtor == creditor:
            raise ValidationError("pay another account", field="creditor_account")
        text = (description or "Sandbox payment")[:140]
        with unit_of_work(self._engine) as session:
            box = _box(session, _developer(developer))
            # Both rows locked in id order (PostgreSQL; SQLite's write lock serialises anyway),
            # so two payments crossing between the same accounts cannot deadlock; only rows of
            # this developer's sandbox are read at all.
            rows = {
                account_id: None if box is None else session.scalars(
                    select(SandboxAccountRow)
                    .where(SandboxAccountRow.id == account_id,
                           SandboxAccountRow.sandbox_id == box.id)
                    .with_for_update()
                ).first()
                for account_id in sorted((debtor, creditor))
            }  # fmt: skip
            paying, paid = rows[debtor], rows[creditor]
            if paying is None:
                raise NotFound(_NOT_FOUND, field="debtor_account")
            if paid is None:
                raise NotFound(_NOT_FOUND, field="creditor_account")
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

    def account(self, developer: str, account_id: str) -> Account:
        """An account of the developer's sandbox; another developer's is unknown."""
        with unit_of_work(self._engine, write=False) as session:
            row = session.scalars(
                select(SandboxAccountRow)
                .join(SandboxRow, SandboxRow.id == SandboxAccountRow.sandbox_id)
                .where(SandboxAccountRow.id == account_id,
                       SandboxRow.owner_id == _developer(developer))
            ).first()  # fmt: skip
        if row is None:
            raise NotFound(_NOT_FOUND, field="account_id")
        return _account(row)

    def balance(self, developer: str, account_id: str) -> Balance:
        a = self.account(developer, account_id)
        zero = Money.zero(a.currency)
        return Balance(a.id, a.currency, a.balance, zero, a.balance, zero)

    def history(
        self, developer: str, account_id: str, start: datetime, end: datetime, limit: int
    ) -> list[HistoryItem]:
        """Postings in ``[start, end)``, newest first (an account of the developer's sandbox)."""
        currency = self.account(developer, account_id).currency
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


def _developer(developer: str) -> str:
    # A sandbox always has its developer: an empty one (an app without an owner) has none.
    if not isinstance(developer, str) or not developer:
        raise NotFound("no sandbox without a developer", field="developer")
    return developer


def _box(session: Session, developer: str) -> SandboxRow | None:
    return session.scalars(select(SandboxRow).where(SandboxRow.owner_id == developer)).first()


def _generate(
    box: SandboxRow, now: datetime
) -> tuple[list[SandboxAccountRow], list[SandboxPostingRow]]:
    """The seeded accounts and postings, the same for every sandbox but for its prefix and the
    day they are dated back from."""
    rng = random.Random(SEED)
    start = now - timedelta(days=_DAYS)
    accounts: list[SandboxAccountRow] = []
    postings: list[SandboxPostingRow] = []
    for name, owned in _CUSTOMERS.items():
        customer = f"{box.prefix}{name}"
        for n, (kind, currency, opening) in enumerate(owned, start=1):
            account_id = f"{customer}_{n}"
            balance = opening
            postings.append(
                SandboxPostingRow(
                    account_id=account_id,
                    seq=0,
                    booked_at=start,
                    amount_minor=opening,
                    balance_after_minor=opening,
                    description="Opening balance",
                )
            )
            offsets = sorted(rng.uniform(0.5, _DAYS - 0.5) for _ in range(_POSTINGS))
            for seq, days in enumerate(offsets, start=1):
                merchant = rng.choice(_MERCHANTS)
                size = rng.randint(5_00, 400_00)
                amount = size * 10 if merchant == "Sandbox Salary" else -size
                if balance + amount < 0:
                    amount = -amount
                balance += amount
                postings.append(
                    SandboxPostingRow(
                        account_id=account_id,
                        seq=seq,
                        booked_at=start + timedelta(days=days),
                        amount_minor=amount,
                        balance_after_minor=balance,
                        description=merchant,
                    )
                )
            accounts.append(
                SandboxAccountRow(
                    id=account_id,
                    sandbox_id=box.id,
                    customer_id=customer,
                    kind=kind,
                    currency=currency,
                    balance_minor=balance,
                    created_at=start,
                )
            )
    return accounts, postings


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
