"""Accounts: open, read, list, status changes, floors, history and the ledger audit."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select, update

from finbridge.banking.models import (
    Account,
    AccountKind,
    AccountStatus,
    Balance,
    HistoryItem,
    LedgerReport,
    Page,
)
from finbridge.banking.service._activity import ActivityCommands, postings_of
from finbridge.banking.service._checks import (
    account_from,
    enum_value,
    is_customer,
    page_limit,
    text,
    valid_account_id,
    valid_rate,
)
from finbridge.banking.tables import (
    LEDGER_CURRENCIES,
    accounts_table,
    customers_table,
    entries_table,
    holds_table,
    postings_table,
)
from finbridge.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from finbridge.core.ids import new_id
from finbridge.core.money import MAX_BALANCE_MINOR, Money, currency
from finbridge.core.principal import Principal

accounts = accounts_table
customers = customers_table
entries = entries_table
holds = holds_table
postings = postings_table


class AccountCommands(ActivityCommands):
    def open_account(
        self,
        actor: Principal,
        customer_id: str,
        *,
        kind: AccountKind | str,
        currency_code: str,
        interest_rate: Decimal | str | None = None,
    ) -> Account:
        actor.require_scope("accounts:write")
        kind = enum_value(AccountKind, kind, "kind")
        if kind is AccountKind.INTERNAL:
            raise ValidationError("internal accounts are opened by the bank", field="kind")
        cur = currency(currency_code)
        if cur.code not in LEDGER_CURRENCIES:
            raise ValidationError(f"{cur.code} is not held by this ledger", field="currency")
        rate = valid_rate(interest_rate, kind)
        now = self.clock.now()
        new_account = new_id()
        with self._write() as conn:
            status = conn.execute(
                select(customers.c.status).where(customers.c.id == customer_id)
            ).scalar()
            if status is None:
                raise NotFound(f"customer {customer_id} not found", field="customer_id")
            if status != "active":
                raise Conflict("customer is closed", field="customer_id")
            conn.execute(
                accounts.insert(),
                {
                    "id": new_account,
                    "customer_id": customer_id,
                    "kind": kind.value,
                    "internal_code": None,
                    "currency": cur.code,
                    "status": "open",
                    "balance_minor": 0,
                    "held_minor": 0,
                    "floor_minor": 0,
                    "allow_negative": False,
                    "interest_rate": None if rate is None else str(rate),
                    "created_at": now,
                },
            )
            self._emit(
                conn,
                self._event(
                    "account.opened",
                    {
                        "account_id": new_account,
                        "customer_id": customer_id,
                        "kind": kind.value,
                        "currency": cur.code,
                    },
                    customer_id,
                ),
            )
        return self.get_account(actor, new_account)

    def get_account(self, actor: Principal, account_id: str) -> Account:
        return self._load_account(actor, valid_account_id(account_id))

    def list_accounts(
        self,
        actor: Principal,
        *,
        customer_id: str | None = None,
        include_internal: bool = False,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page[Account]:
        """A customer's accounts (customers: always their own), or all accounts for operators."""
        limit = page_limit(limit)
        if is_customer(actor):
            if customer_id not in (None, actor.customer_id):
                raise NotFound(f"customer {customer_id} not found", field="customer_id")
            customer_id = actor.customer_id
            include_internal = False
        else:
            actor.require_scope("accounts:read")
        stmt = select(accounts).order_by(accounts.c.id.desc()).limit(limit + 1)
        if customer_id is not None:
            stmt = stmt.where(accounts.c.customer_id == customer_id)
        if not include_internal:
            stmt = stmt.where(accounts.c.kind != "internal")
        if cursor:
            stmt = stmt.where(accounts.c.id < cursor)
        with self._read() as conn:
            rows = [account_from(r._mapping) for r in conn.execute(stmt)]
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, rows[-1].id if more else None)

    def balance(self, actor: Principal, account_id: str) -> Balance:
        acc = self.get_account(actor, account_id)
        return Balance(
            account_id=acc.id,
            currency=acc.currency,
            balance=acc.balance,
            held=acc.held,
            available=acc.available,
            floor=acc.floor,
        )

    def deposits_by_currency(self, actor: Principal) -> dict[str, Money]:
        """Total customer balances per currency (the console's overview figure)."""
        actor.require_scope("accounts:read")
        if is_customer(actor):
            raise PermissionDenied("customers cannot read bank totals")
        stmt = (
            select(accounts.c.currency, func.sum(accounts.c.balance_minor))
            .where(accounts.c.kind != "internal")
            .group_by(accounts.c.currency)
        )
        with self._read() as conn:
            return {
                cur: Money.from_minor(int(total or 0), cur) for cur, total in conn.execute(stmt)
            }

    def freeze_account(self, actor: Principal, account_id: str, *, reason: str = "") -> Account:
        return self._set_status(actor, account_id, AccountStatus.FROZEN, reason, {"open"})

    def unfreeze_account(self, actor: Principal, account_id: str, *, reason: str = "") -> Account:
        return self._set_status(actor, account_id, AccountStatus.OPEN, reason, {"frozen"})

    def close_account(self, actor: Principal, account_id: str, *, reason: str = "") -> Account:
        """Close an account with a zero balance and no holds; closing is final."""
        return self._set_status(actor, account_id, AccountStatus.CLOSED, reason, {"open", "frozen"})

    def _set_status(
        self,
        actor: Principal,
        target: str,
        new: AccountStatus,
        reason: str,
        allowed_from: set[str],
    ) -> Account:
        actor.require_scope("accounts:write")
        valid_account_id(target)
        text(reason, "reason")
        with self._write() as conn:
            acc = self._load_account(actor, target, conn)
            if acc.kind is AccountKind.INTERNAL:
                raise Conflict("internal accounts cannot change status", field="account_id")
            if acc.status is new:
                return acc  # already there: repeating the command is harmless
            if acc.status.value not in allowed_from:
                raise Conflict(
                    f"account is {acc.status.value}; cannot become {new.value}", field="status"
                )
            if new is AccountStatus.CLOSED and (
                not acc.balance.is_zero() or not acc.held.is_zero()
            ):
                raise Conflict(
                    "only an account with zero balance and no holds can be closed",
                    field="account_id",
                )
            conn.execute(
                update(accounts)
                .where(accounts.c.id == target, accounts.c.status == acc.status.value)
                .values(status=new.value)
            )
            self._emit(
                conn,
                self._event(
                    "account.status_changed",
                    {
                        "account_id": target,
                        "customer_id": acc.customer_id,
                        "old_status": acc.status.value,
                        "new_status": new.value,
                        "reason": reason,
                    },
                    acc.customer_id,
                ),
            )
            return self._load_account(actor, target, conn)

    def set_floor(self, actor: Principal, account_id: str, floor: Money) -> Account:
        """Let a credit facility set how far below zero the account may go (0 = none)."""
        actor.require_scope("accounts:write")
        if is_customer(actor):
            raise PermissionDenied("customers cannot change account limits")
        target = valid_account_id(account_id)
        if not isinstance(floor, Money) or floor.is_positive():
            raise ValidationError("floor must be zero or a negative amount", field="floor")
        if -floor.minor > MAX_BALANCE_MINOR:
            raise ValidationError(
                f"floor is below the minimum balance of -{floor.currency.max_balance:,}",
                field="floor",
            )
        with self._write() as conn:
            acc = self._load_account(actor, target, conn)
            if acc.currency != floor.code:
                raise ValidationError(
                    f"account holds {acc.currency}, not {floor.code}", field="currency"
                )
            if acc.kind is AccountKind.INTERNAL:
                raise Conflict("internal accounts have no floor", field="account_id")
            if acc.available < floor:
                raise Conflict(
                    "the account is already below that floor; repay first", field="floor"
                )
            conn.execute(
                update(accounts).where(accounts.c.id == target).values(floor_minor=floor.minor)
            )
            return self._load_account(actor, target, conn)

    def history(
        self, actor: Principal, account_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[HistoryItem]:
        """The account's postings, newest first; ``cursor`` continues with older ones."""
        acc = self.get_account(actor, account_id)
        limit = page_limit(limit)
        return self._history_page(postings_of(acc.id), acc.currency, limit, cursor)

    def verify_ledger(self, actor: Principal) -> LedgerReport:
        """Recompute every balance from the postings and report drift of any kind."""
        actor.require_scope("accounts:read")
        if is_customer(actor):
            raise PermissionDenied("customers cannot audit the ledger")
        sums = (
            select(postings.c.account_id, func.sum(postings.c.amount_minor).label("total"))
            .group_by(postings.c.account_id)
            .subquery()
        )
        drift_stmt = (
            select(accounts.c.id, accounts.c.balance_minor, func.coalesce(sums.c.total, 0))
            .outerjoin(sums, sums.c.account_id == accounts.c.id)
            .where(accounts.c.balance_minor != func.coalesce(sums.c.total, 0))
        )
        held = (
            select(holds.c.account_id, func.sum(holds.c.amount_minor).label("total"))
            .where(holds.c.status == "active")
            .group_by(holds.c.account_id)
            .subquery()
        )
        held_stmt = (
            select(accounts.c.id, accounts.c.held_minor, func.coalesce(held.c.total, 0))
            .outerjoin(held, held.c.account_id == accounts.c.id)
            .where(accounts.c.held_minor != func.coalesce(held.c.total, 0))
        )
        unbalanced_stmt = (
            select(postings.c.entry_id)
            .group_by(postings.c.entry_id, postings.c.currency)
            .having(func.sum(postings.c.amount_minor) != 0)
        )
        with self._read() as conn:
            drift = [(r[0], int(r[1]), int(r[2])) for r in conn.execute(drift_stmt)]
            drift += [(f"held:{r[0]}", int(r[1]), int(r[2])) for r in conn.execute(held_stmt)]
            unbalanced = sorted({r[0] for r in conn.execute(unbalanced_stmt)})
            totals = {
                cur: int(total or 0)
                for cur, total in conn.execute(
                    select(accounts.c.currency, func.sum(accounts.c.balance_minor)).group_by(
                        accounts.c.currency
                    )
                )
            }
            n_accounts = conn.execute(select(func.count()).select_from(accounts)).scalar_one()
            n_entries = conn.execute(select(func.count()).select_from(entries)).scalar_one()
        return LedgerReport(
            accounts_checked=int(n_accounts),
            entries_checked=int(n_entries),
            drifted_accounts=drift,
            unbalanced_entries=unbalanced,
            totals_by_currency=totals,
        )
