"""BankingService: customers, accounts, transfers, holds and reads, authorised per call.

Every public method takes the acting :class:`~finbridge.core.Principal` first. Customers (and
third parties acting for one) see and debit only their own accounts; someone else's account is
reported as not found. Operators act by scope (``customers:read|write``, ``accounts:read|write``,
``transfers:write``). Every money-moving command takes an idempotency key, scoped to the actor.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, RowMapping, func, select, update

from finbridge.banking import bulk, interest
from finbridge.banking.events import SOURCE
from finbridge.banking.guard import (
    ApproveAll,
    PostingDeclined,
    PostingGuard,
    PostingIntent,
    Verdict,
)
from finbridge.banking.ledger import (
    EntrySpec,
    Leg,
    PairEvent,
    Replay,
    accounts,
    apply_legs,
    entries,
    fingerprint,
    insert_ignoring_conflict,
    post_entry,
    post_pair_pg,
    postings,
    stored_entry,
)
from finbridge.banking.models import (
    Account,
    AccountKind,
    AccountStatus,
    Balance,
    CardBatchResult,
    CardTransaction,
    Customer,
    CustomerKind,
    EntryKind,
    HistoryItem,
    Hold,
    HoldStatus,
    InterestRun,
    InternalAccount,
    LedgerReport,
    NewCustomerSpec,
    OpenedCustomer,
    Page,
    PostingResult,
)
from finbridge.banking.tables import (
    LEDGER_CURRENCIES,
    customers_table,
    holds_table,
)
from finbridge.banking.writelock import writer_lock
from finbridge.core.clock import Clock, business_date
from finbridge.core.errors import (
    Conflict,
    FinbridgeError,
    IdempotencyConflict,
    NotFound,
    PermissionDenied,
    StepUpRequired,
    ValidationError,
)
from finbridge.core.ids import is_valid_id, new_id
from finbridge.core.money import Money, currency
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.lake import Event, emit
from finbridge.store.engine import is_sqlite, unit_of_work

_E = TypeVar("_E", bound=Enum)

customers_t = customers_table
holds_t = holds_table

MAX_KEY_LENGTH = 200
MAX_DESCRIPTION = 500
MAX_PAGE = 200
_SESSION_KEY = "finbridge.banking.session"


def _is_customer(actor: Principal) -> bool:
    return actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY)


def _owner(actor: Principal) -> str | None:
    """The customer whose objects ``actor`` is confined to, or None for operators/system."""
    return actor.customer_id if _is_customer(actor) else None


def _positive(amount: Money, field: str = "amount") -> Money:
    if not isinstance(amount, Money):
        raise ValidationError("amount must be Money (decimal amount + currency)", field=field)
    if amount.currency.code not in LEDGER_CURRENCIES:
        raise ValidationError(f"{amount.code} is not held by this ledger", field="currency")
    if not amount.is_positive():
        raise ValidationError("amount must be greater than zero", field=field)
    return amount


def _key(key: str | None) -> str:
    if not isinstance(key, str) or not key.strip():
        raise ValidationError("an idempotency key is required", field="idempotency_key")
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            f"idempotency key longer than {MAX_KEY_LENGTH} characters", field="idempotency_key"
        )
    return key


def _text(value: str, field: str, limit: int = MAX_DESCRIPTION) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise ValidationError(f"must be text of at most {limit} characters", field=field)
    return value


def _account_id(value: str, field: str = "account_id") -> str:
    # A malformed id cannot exist: report it the same way as an unknown one.
    if not isinstance(value, str) or not is_valid_id(value):
        raise NotFound(f"account {value!r} not found", field=field)
    return value


def _limit(limit: int) -> int:
    if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError(f"limit must be between 1 and {MAX_PAGE}", field="limit")
    return limit


class BankingService:
    """The banking core's only public entry point for interfaces and other engines."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        guard: PostingGuard | None = None,
        business_timezone: str = "Asia/Shanghai",
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.guard: PostingGuard = guard or ApproveAll()
        self.business_timezone = business_timezone
        self._internal: dict[tuple[str, str], str] = {}
        self._write_lock: AbstractContextManager[Any] = nullcontext()
        if is_sqlite(engine):
            # Writers queue on a lock that wakes the next one (see writelock.py).
            self._write_lock = writer_lock(engine)
        # Two-leg movements on PostgreSQL go through one stored-function call (banking_0002).
        self._pair_function = engine.dialect.name == "postgresql"

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._write_lock, unit_of_work(self.engine, write=True) as session:
            conn = session.connection()
            # Kept so _emit() writes the outbox through the same session and transaction.
            conn.info[_SESSION_KEY] = session
            try:
                yield conn
            finally:
                conn.info.pop(_SESSION_KEY, None)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    def _emit(self, conn: Connection, *events: Event) -> None:
        emit(conn.info[_SESSION_KEY], *events)

    def _event(self, event_type: str, payload: Mapping[str, Any], subject: str | None) -> Event:
        return Event(
            event_type=event_type,
            occurred_at=self.clock.now(),
            payload=dict(payload),
            source=SOURCE,
            subject_id=subject,
        )

    # ------------------------------------------------------------------ customers
    def create_customer(
        self,
        actor: Principal,
        *,
        kind: CustomerKind | str,
        display_name: str,
        external_ref: str | None = None,
    ) -> Customer:
        actor.require_scope("customers:write")
        kind = _enum(CustomerKind, kind, "kind")
        name = _text(display_name, "display_name", 200).strip()
        if not name:
            raise ValidationError("display name is required", field="display_name")
        if external_ref is not None:
            _text(external_ref, "external_ref", 64)
        customer = Customer(
            id=new_id(),
            kind=kind,
            display_name=name,
            status="active",
            created_at=self.clock.now(),
            external_ref=external_ref,
        )
        with self._write() as conn:
            if (
                external_ref is not None
                and conn.execute(
                    select(customers_t.c.id).where(customers_t.c.external_ref == external_ref)
                ).first()
            ):
                raise Conflict("a customer with this external_ref exists", field="external_ref")
            conn.execute(
                customers_t.insert(),
                {
                    "id": customer.id,
                    "kind": kind.value,
                    "display_name": name,
                    "status": "active",
                    "external_ref": external_ref,
                    "created_at": customer.created_at,
                },
            )
            self._emit(
                conn,
                self._event(
                    "customer.created",
                    {"customer_id": customer.id, "kind": kind.value, "status": "active"},
                    customer.id,
                ),
            )
        return customer

    def get_customer(self, actor: Principal, customer_id: str) -> Customer:
        self._require_customer_read(actor, customer_id)
        with self._read() as conn:
            row = conn.execute(select(customers_t).where(customers_t.c.id == customer_id)).first()
        if row is None:
            raise NotFound(f"customer {customer_id} not found", field="customer_id")
        return _customer(row._mapping)

    def list_customers(
        self, actor: Principal, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Customer]:
        """Operators only: customers newest first (ids are time-ordered)."""
        if _is_customer(actor):
            raise PermissionDenied("customers cannot list other customers")
        actor.require_scope("customers:read")
        limit = _limit(limit)
        stmt = select(customers_t).order_by(customers_t.c.id.desc()).limit(limit + 1)
        if cursor:
            stmt = stmt.where(customers_t.c.id < cursor)
        with self._read() as conn:
            rows = [_customer(r._mapping) for r in conn.execute(stmt)]
        more = len(rows) > limit
        rows = rows[:limit]
        return Page(rows, rows[-1].id if more else None)

    def _require_customer_read(self, actor: Principal, customer_id: str) -> None:
        if _is_customer(actor):
            if actor.customer_id != customer_id:
                raise NotFound(f"customer {customer_id} not found", field="customer_id")
        else:
            actor.require_scope("customers:read")

    # ------------------------------------------------------------------ accounts
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
        kind = _enum(AccountKind, kind, "kind")
        if kind is AccountKind.INTERNAL:
            raise ValidationError("internal accounts are opened by the bank", field="kind")
        cur = currency(currency_code)
        if cur.code not in LEDGER_CURRENCIES:
            raise ValidationError(f"{cur.code} is not held by this ledger", field="currency")
        rate = _rate(interest_rate, kind)
        now = self.clock.now()
        account_id = new_id()
        with self._write() as conn:
            status = conn.execute(
                select(customers_t.c.status).where(customers_t.c.id == customer_id)
            ).scalar()
            if status is None:
                raise NotFound(f"customer {customer_id} not found", field="customer_id")
            if status != "active":
                raise Conflict("customer is closed", field="customer_id")
            conn.execute(
                accounts.insert(),
                {
                    "id": account_id,
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
                        "account_id": account_id,
                        "customer_id": customer_id,
                        "kind": kind.value,
                        "currency": cur.code,
                    },
                    customer_id,
                ),
            )
        return self.get_account(actor, account_id)

    def get_account(self, actor: Principal, account_id: str) -> Account:
        return self._load_account(actor, _account_id(account_id))

    def _load_account(
        self, actor: Principal, account_id: str, conn: Connection | None = None
    ) -> Account:
        if not _is_customer(actor):
            actor.require_scope("accounts:read")
        stmt = select(accounts).where(accounts.c.id == account_id)
        if conn is None:
            with self._read() as c:
                row = c.execute(stmt).first()
        else:
            row = conn.execute(stmt).first()
        if row is None or (_is_customer(actor) and row.customer_id != actor.customer_id):
            raise NotFound(f"account {account_id} not found", field="account_id")
        return _account(row._mapping)

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
        limit = _limit(limit)
        if _is_customer(actor):
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
            rows = [_account(r._mapping) for r in conn.execute(stmt)]
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

    def count_customers(self, actor: Principal) -> int:
        """How many customers the bank has (the console's overview figure)."""
        actor.require_scope("customers:read")  # customers hold only customers:read:self
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(customers_table)).scalar_one())

    def deposits_by_currency(self, actor: Principal) -> dict[str, Money]:
        """Total customer balances per currency (the console's overview figure)."""
        actor.require_scope("accounts:read")
        if _is_customer(actor):
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
        account_id: str,
        new: AccountStatus,
        reason: str,
        allowed_from: set[str],
    ) -> Account:
        actor.require_scope("accounts:write")
        _account_id(account_id)
        _text(reason, "reason")
        with self._write() as conn:
            acc = self._load_account(actor, account_id, conn)
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
                .where(accounts.c.id == account_id, accounts.c.status == acc.status.value)
                .values(status=new.value)
            )
            self._emit(
                conn,
                self._event(
                    "account.status_changed",
                    {
                        "account_id": account_id,
                        "customer_id": acc.customer_id,
                        "old_status": acc.status.value,
                        "new_status": new.value,
                        "reason": reason,
                    },
                    acc.customer_id,
                ),
            )
            return self._load_account(actor, account_id, conn)

    def set_floor(self, actor: Principal, account_id: str, floor: Money) -> Account:
        """Let a credit facility set how far below zero the account may go (0 = none)."""
        actor.require_scope("accounts:write")
        if _is_customer(actor):
            raise PermissionDenied("customers cannot change account limits")
        _account_id(account_id)
        if not isinstance(floor, Money) or floor.is_positive():
            raise ValidationError("floor must be zero or a negative amount", field="floor")
        with self._write() as conn:
            acc = self._load_account(actor, account_id, conn)
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
                update(accounts).where(accounts.c.id == account_id).values(floor_minor=floor.minor)
            )
            return self._load_account(actor, account_id, conn)

    # ------------------------------------------------------------------ internal accounts
    def internal_account_id(self, code: InternalAccount | str, currency_code: str) -> str:
        """The bank's own account ``code`` in ``currency_code``, created on first use."""
        code = InternalAccount(code).value
        cur = currency(currency_code).code
        cached = self._internal.get((code, cur))
        if cached:
            return cached
        with self._write() as conn:
            stmt = insert_ignoring_conflict(conn, accounts)
            found = conn.execute(
                select(accounts.c.id).where(
                    accounts.c.internal_code == code, accounts.c.currency == cur
                )
            ).scalar()
            if found is None:
                found = new_id()
                conn.execute(
                    stmt,
                    {
                        "id": found,
                        "customer_id": None,
                        "kind": "internal",
                        "internal_code": code,
                        "currency": cur,
                        "status": "open",
                        "balance_minor": 0,
                        "held_minor": 0,
                        "floor_minor": 0,
                        "allow_negative": code != InternalAccount.CARD_SETTLEMENT.value,
                        "interest_rate": None,
                        "created_at": self.clock.now(),
                    },
                )
        # A racing creator may have won the (internal_code, currency) key: read back the winner.
        with self._read() as conn:
            winner = conn.execute(
                select(accounts.c.id).where(
                    accounts.c.internal_code == code, accounts.c.currency == cur
                )
            ).scalar_one()
        self._internal[(code, cur)] = winner
        return str(winner)

    # ------------------------------------------------------------------ money movement
    def transfer(
        self,
        actor: Principal,
        from_account_id: str,
        to_account_id: str,
        amount: Money,
        *,
        idempotency_key: str,
        description: str = "",
        channel: str | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> PostingResult:
        """Move ``amount`` between two accounts of the same currency, exactly once per key."""
        actor.require_scope("transfers:write")
        key = _key(idempotency_key)
        amount = _positive(amount)
        src = _account_id(from_account_id, "from_account_id")
        dst = _account_id(to_account_id, "to_account_id")
        if src == dst:
            raise ValidationError("cannot transfer to the same account", field="to_account_id")
        description = _text(description, "description")
        legs = [Leg(src, -amount.minor, owner=_owner(actor)), Leg(dst, amount.minor)]
        return self._move(
            actor, EntryKind.TRANSFER, key, amount, src, dst, legs, description, channel, metadata
        )

    def deposit(
        self,
        actor: Principal,
        account_id: str,
        amount: Money,
        *,
        idempotency_key: str,
        description: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> PostingResult:
        """Cash in at a teller (operators only): credit the account from the bank's cash."""
        return self._cash(
            actor, EntryKind.DEPOSIT, account_id, amount, idempotency_key, description, metadata
        )

    def withdraw(
        self,
        actor: Principal,
        account_id: str,
        amount: Money,
        *,
        idempotency_key: str,
        description: str = "",
        metadata: Mapping[str, Any] | None = None,
    ) -> PostingResult:
        """Cash out at a teller (operators only): debit the account into the bank's cash."""
        return self._cash(
            actor, EntryKind.WITHDRAWAL, account_id, amount, idempotency_key, description, metadata
        )

    def _cash(
        self,
        actor: Principal,
        kind: EntryKind,
        account_id: str,
        amount: Money,
        idempotency_key: str,
        description: str,
        metadata: Mapping[str, Any] | None,
    ) -> PostingResult:
        self._require_teller(actor)
        key = _key(idempotency_key)
        amount = _positive(amount)
        account = _account_id(account_id)
        cash = self.internal_account_id(InternalAccount.CASH, amount.code)
        src, dst = (cash, account) if kind is EntryKind.DEPOSIT else (account, cash)
        legs = [Leg(src, -amount.minor), Leg(dst, amount.minor)]
        description = _text(description, "description")
        return self._move(actor, kind, key, amount, src, dst, legs, description, "branch", metadata)

    def _require_teller(self, actor: Principal) -> None:
        actor.require_scope("transfers:write")
        actor.require_scope("accounts:write")
        if _is_customer(actor):
            raise PermissionDenied("cash deposits and withdrawals are teller operations")

    def _move(
        self,
        actor: Principal,
        kind: EntryKind,
        key: str,
        amount: Money,
        src: str,
        dst: str,
        legs: list[Leg],
        description: str,
        channel: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> PostingResult:
        scoped = _scoped(actor, key)
        fp = fingerprint(kind.value, src, dst, amount.minor, amount.code, description)
        now = self.clock.now()
        # Money coming in (a teller deposit) needs no risk decision; everything going out does.
        if kind is not EntryKind.DEPOSIT and not isinstance(self.guard, ApproveAll):
            self._consult_guard(actor, kind, key, amount, src, dst, now, channel, metadata)
        entry_id = new_id()
        result = PostingResult(entry_id, kind, amount, src, dst, now, description)
        try:
            if self._pair_function:
                self._move_pg(actor, kind, scoped, fp, result, legs, channel, metadata)
                return result
            with self._write() as conn:
                spec = EntrySpec(
                    entry_id, kind.value, scoped, fp, result.to_json(), description,
                    metadata, actor.id, now,
                )  # fmt: skip
                applied = post_entry(conn, amount.code, legs, spec)
                owners = {a.account_id: a.customer_id for a in applied}
                if kind is EntryKind.TRANSFER and actor.kind is not PrincipalKind.SYSTEM:
                    # The bank's own accounts may go negative: only the platform itself may
                    # move money in or out of them by transfer (tellers use deposit/withdraw).
                    for account_id, field in ((src, "from_account_id"), (dst, "to_account_id")):
                        if owners.get(account_id) is None:
                            raise NotFound(f"account {account_id} not found", field=field)
                self._emit(
                    conn,
                    self._posted_event(result, owners.get(src), owners.get(dst), channel, metadata),
                )
        except (Replay, FinbridgeError) as exc:
            # A retry (or a racing duplicate) of a command that already succeeded returns the
            # first result, whatever the accounts look like now.
            replay = self._replay(scoped, fp)
            if replay is not None:
                return replay
            if isinstance(exc, Replay):  # pragma: no cover - the key exists by construction
                raise Conflict("idempotency key vanished", field="idempotency_key") from None
            raise
        return result

    def _move_pg(
        self,
        actor: Principal,
        kind: EntryKind,
        scoped: str,
        fp: str,
        result: PostingResult,
        legs: list[Leg],
        channel: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> None:
        """PostgreSQL: the whole movement as one autocommit call of ``banking_post_pair``.

        Same checks, rows and ``transaction.posted`` payload as the generic path below; the
        function builds the payload because the customer ids are known only after the UPDATEs.
        """
        debit, credit = legs
        spec = EntrySpec(
            result.entry_id, kind.value, scoped, fp, result.to_json(), result.description,
            metadata, actor.id, result.created_at,
        )  # fmt: skip
        merchant = (metadata or {}).get("merchant")
        event = PairEvent(
            new_id(),
            self.clock.now(),
            str(result.amount.amount),
            channel,
            None if merchant is None else str(merchant),
        )
        customers_only = kind is EntryKind.TRANSFER and actor.kind is not PrincipalKind.SYSTEM
        post_pair_pg(self.engine, result.amount.code, debit, credit, spec, customers_only, event)

    def _replay(self, scoped_key: str, fp: str) -> PostingResult | None:
        with self._read() as conn:
            found = stored_entry(conn, scoped_key)
        if found is None:
            return None
        stored_fp, stored_result = found
        if stored_fp != fp:
            raise IdempotencyConflict(
                "this idempotency key was used for a different request", field="idempotency_key"
            )
        return PostingResult.from_json(stored_result, replayed=True)

    def _posted_event(
        self,
        result: PostingResult,
        from_customer: str | None,
        to_customer: str | None,
        channel: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> Event:
        merchant = (metadata or {}).get("merchant")
        return self._event(
            "transaction.posted",
            {
                "entry_id": result.entry_id,
                "kind": result.kind.value,
                "amount": str(result.amount.amount),
                "currency": result.amount.code,
                "from_account_id": result.from_account_id,
                "to_account_id": result.to_account_id,
                "from_customer_id": from_customer,
                "to_customer_id": to_customer,
                "description": result.description,
                "channel": channel,
                "merchant": None if merchant is None else str(merchant),
            },
            from_customer or to_customer,
        )

    def _consult_guard(
        self,
        actor: Principal,
        kind: EntryKind,
        key: str,
        amount: Money,
        src: str,
        dst: str | None,
        now: datetime,
        channel: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> None:
        with self._read() as conn:
            rows = {
                r.id: r.customer_id
                for r in conn.execute(
                    select(accounts.c.id, accounts.c.customer_id).where(
                        accounts.c.id.in_([a for a in (src, dst) if a])
                    )
                )
            }
        owner = _owner(actor)
        if src not in rows or (owner is not None and rows[src] != owner):
            raise NotFound(f"account {src} not found", field="from_account_id")
        intent = PostingIntent(
            actor=actor,
            kind=kind.value,
            from_account_id=src,
            to_account_id=dst,
            from_customer_id=rows.get(src),
            to_customer_id=rows.get(dst) if dst else None,
            amount=amount,
            occurred_at=now,
            idempotency_key=key,
            channel=channel,
            metadata=dict(metadata or {}),
        )
        decision = self.guard.check(intent)
        if decision.verdict is Verdict.DECLINE:
            raise PostingDeclined(decision.reasons, decision.version)
        if decision.verdict is Verdict.STEP_UP:
            raise StepUpRequired(
                "; ".join(decision.reasons) or "confirm this payment with a second factor",
                reasons=list(decision.reasons),
                version=decision.version,
            )

    # ------------------------------------------------------------------ holds
    def place_hold(
        self,
        actor: Principal,
        account_id: str,
        amount: Money,
        *,
        idempotency_key: str,
        expires_at: datetime | None = None,
        description: str = "",
    ) -> Hold:
        """Reserve ``amount`` now (available balance drops, ledger balance does not)."""
        actor.require_scope("transfers:write")
        key = _key(idempotency_key)
        amount = _positive(amount)
        acc_id = _account_id(account_id)
        description = _text(description, "description")
        now = self.clock.now()
        if expires_at is not None and expires_at <= now:
            raise ValidationError("expiry must be in the future", field="expires_at")
        scoped = _scoped(actor, key)
        fp = fingerprint("hold", acc_id, amount.minor, amount.code, description)
        hold_id = new_id()
        try:
            with self._write() as conn:
                leg = Leg(acc_id, 0, release_held=-amount.minor, owner=_owner(actor))
                applied = apply_legs(conn, amount.code, [leg])
                stmt = insert_ignoring_conflict(conn, holds_t, "idempotency_key").returning(
                    holds_t.c.id
                )
                row = conn.execute(
                    stmt,
                    {
                        "id": hold_id,
                        "account_id": acc_id,
                        "currency": amount.code,
                        "amount_minor": amount.minor,
                        "status": "active",
                        "idempotency_key": scoped,
                        "request_fingerprint": fp,
                        "description": description,
                        "created_at": now,
                        "expires_at": expires_at,
                        "settled_at": None,
                        "capture_entry_id": None,
                    },
                ).first()
                if row is None:
                    raise Replay(scoped)
                self._emit(
                    conn,
                    self._event(
                        "hold.placed",
                        {
                            "hold_id": hold_id,
                            "account_id": acc_id,
                            "customer_id": applied[0].customer_id,
                            "amount": str(amount.amount),
                            "currency": amount.code,
                            "expires_at": None if expires_at is None else expires_at.isoformat(),
                        },
                        applied[0].customer_id,
                    ),
                )
        except (Replay, FinbridgeError):
            with self._read() as conn:
                found = conn.execute(
                    select(holds_t).where(holds_t.c.idempotency_key == scoped)
                ).first()
            if found is None:
                raise
            if found.request_fingerprint != fp:
                raise IdempotencyConflict(
                    "this idempotency key was used for a different request",
                    field="idempotency_key",
                ) from None
            return _hold(found._mapping, replayed=True)
        return self.get_hold(actor, hold_id)

    def get_hold(self, actor: Principal, hold_id: str) -> Hold:
        with self._read() as conn:
            return self._load_hold(actor, hold_id, conn)

    def _load_hold(self, actor: Principal, hold_id: str, conn: Connection) -> Hold:
        if not _is_customer(actor):
            actor.require_scope("accounts:read")
        row = conn.execute(
            select(holds_t, accounts.c.customer_id)
            .join(accounts, accounts.c.id == holds_t.c.account_id)
            .where(holds_t.c.id == hold_id)
        ).first()
        if row is None or (_is_customer(actor) and row.customer_id != actor.customer_id):
            raise NotFound(f"hold {hold_id} not found", field="hold_id")
        return _hold(row._mapping)

    def capture_hold(
        self,
        actor: Principal,
        hold_id: str,
        *,
        to_account_id: str,
        idempotency_key: str,
        amount: Money | None = None,
        description: str = "",
    ) -> PostingResult:
        """Post a held amount (all of it, or less) to ``to_account_id``; the rest is released."""
        actor.require_scope("transfers:write")
        if _is_customer(actor):
            raise PermissionDenied("holds are captured by the payment engines")
        key = _key(idempotency_key)
        dst = _account_id(to_account_id, "to_account_id")
        description = _text(description, "description")
        with self._read() as conn:
            hold = self._load_hold(actor, hold_id, conn)
        capture = hold.amount if amount is None else _positive(amount)
        if capture.code != hold.amount.code:
            raise ValidationError(f"the hold is in {hold.amount.code}", field="currency")
        if capture > hold.amount:
            raise ValidationError("cannot capture more than the hold", field="amount")
        scoped = _scoped(actor, key)
        fp = fingerprint("capture", hold_id, dst, capture.minor, capture.code, description)
        now = self.clock.now()
        entry_id = new_id()
        result = PostingResult(
            entry_id, EntryKind.HOLD_CAPTURE, capture, hold.account_id, dst, now, description
        )
        try:
            with self._write() as conn:
                taken = conn.execute(
                    update(holds_t)
                    .where(holds_t.c.id == hold_id, holds_t.c.status == "active")
                    .values(status="captured", settled_at=now, capture_entry_id=entry_id)
                    .returning(holds_t.c.expires_at)
                ).first()
                if taken is None:
                    raise Conflict("the hold is no longer active", field="hold_id")
                expiry = taken.expires_at
                if expiry is not None and _aware(expiry) <= now:
                    raise Conflict("the hold has expired", field="hold_id")
                legs = [
                    Leg(hold.account_id, -capture.minor, release_held=hold.amount.minor),
                    Leg(dst, capture.minor),
                ]
                spec = EntrySpec(
                    entry_id, EntryKind.HOLD_CAPTURE.value, scoped, fp, result.to_json(),
                    description, {"hold_id": hold_id}, actor.id, now,
                )  # fmt: skip
                applied = post_entry(conn, capture.code, legs, spec)
                owners = {a.account_id: a.customer_id for a in applied}
                self._emit(
                    conn,
                    self._event(
                        "hold.captured",
                        {
                            "hold_id": hold_id,
                            "account_id": hold.account_id,
                            "entry_id": entry_id,
                            "amount": str(capture.amount),
                            "currency": capture.code,
                            "to_account_id": dst,
                        },
                        owners.get(hold.account_id),
                    ),
                    self._posted_event(
                        result, owners.get(hold.account_id), owners.get(dst), "card", None
                    ),
                )
        except (Replay, FinbridgeError) as exc:
            replay = self._replay(scoped, fp)
            if replay is not None:
                return replay
            if isinstance(exc, Replay):  # pragma: no cover
                raise Conflict("idempotency key vanished", field="idempotency_key") from None
            raise
        return result

    def release_hold(self, actor: Principal, hold_id: str, *, reason: str = "released") -> Hold:
        """Give the reserved amount back; releasing a released hold returns it unchanged."""
        actor.require_scope("transfers:write")
        if _is_customer(actor):
            raise PermissionDenied("holds are released by the payment engines")
        with self._write() as conn:
            hold = self._load_hold(actor, hold_id, conn)
            if hold.status in (HoldStatus.RELEASED, HoldStatus.EXPIRED):
                return hold
            if hold.status is HoldStatus.CAPTURED:
                raise Conflict("the hold was captured", field="hold_id")
            self._release(conn, hold, HoldStatus.RELEASED, reason)
            return self._load_hold(actor, hold_id, conn)

    def expire_holds(self, actor: Principal) -> int:
        """Release every active hold past its expiry; returns how many."""
        actor.require_scope("transfers:write")
        if _is_customer(actor):
            raise PermissionDenied("holds are expired by the platform")
        now = self.clock.now()
        with self._write() as conn:
            rows = conn.execute(
                select(holds_t.c.id).where(
                    holds_t.c.status == "active",
                    holds_t.c.expires_at.is_not(None),
                    holds_t.c.expires_at <= now,
                )
            ).all()
            for row in rows:
                self._release(conn, self._load_hold(actor, row.id, conn), HoldStatus.EXPIRED)
        return len(rows)

    def _release(self, conn: Connection, hold: Hold, status: HoldStatus, reason: str = "") -> None:
        changed = conn.execute(
            update(holds_t)
            .where(holds_t.c.id == hold.id, holds_t.c.status == "active")
            .values(status=status.value, settled_at=self.clock.now())
        ).rowcount
        if not changed:
            return
        conn.execute(
            update(accounts)
            .where(accounts.c.id == hold.account_id)
            .values(held_minor=accounts.c.held_minor - hold.amount.minor)
        )
        self._emit(
            conn,
            self._event(
                "hold.released",
                {
                    "hold_id": hold.id,
                    "account_id": hold.account_id,
                    "amount": str(hold.amount.amount),
                    "currency": hold.amount.code,
                    "reason": reason or status.value,
                },
                None,
            ),
        )

    # ------------------------------------------------------------------ history
    def history(
        self, actor: Principal, account_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[HistoryItem]:
        """The account's postings, newest first; ``cursor`` continues with older ones."""
        acc = self.get_account(actor, account_id)
        limit = _limit(limit)
        stmt = (
            select(
                postings.c.id,
                postings.c.entry_id,
                postings.c.amount_minor,
                postings.c.balance_after_minor,
                entries.c.kind,
                entries.c.description,
                entries.c.created_at,
            )
            .join(entries, entries.c.id == postings.c.entry_id)
            .where(postings.c.account_id == acc.id)
            .order_by(postings.c.id.desc())
            .limit(limit + 1)
        )
        if cursor is not None:
            if not cursor.isdigit():
                raise ValidationError("malformed cursor", field="cursor")
            stmt = stmt.where(postings.c.id < int(cursor))
        with self._read() as conn:
            rows = conn.execute(stmt).all()
        items = [
            HistoryItem(
                posting_id=r.id,
                entry_id=r.entry_id,
                kind=EntryKind(r.kind),
                amount=Money.from_minor(r.amount_minor, acc.currency),
                balance_after=Money.from_minor(r.balance_after_minor, acc.currency),
                description=r.description,
                created_at=_aware(r.created_at),
            )
            for r in rows[:limit]
        ]
        return Page(items, str(items[-1].posting_id) if len(rows) > limit else None)

    # ------------------------------------------------------------------ integrity
    def verify_ledger(self, actor: Principal) -> LedgerReport:
        """Recompute every balance from the postings and report drift of any kind."""
        actor.require_scope("accounts:read")
        if _is_customer(actor):
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
            select(holds_t.c.account_id, func.sum(holds_t.c.amount_minor).label("total"))
            .where(holds_t.c.status == "active")
            .group_by(holds_t.c.account_id)
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

    # ------------------------------------------------------------------ interest
    def accrue_interest(self, actor: Principal, business_day: date | None = None) -> InterestRun:
        """Accrue one day (ACT/365) on every interest-bearing savings account; idempotent.

        ``business_day`` defaults to today in the business time zone.
        """
        self._require_batch(actor)
        day = business_day or business_date(self.clock.now(), self.business_timezone)
        with self._write() as conn:
            return interest.accrue(conn, day)

    def capitalise_interest(self, actor: Principal, year: int, month: int) -> int:
        """Post a month's accrued interest to each savings account; returns entries posted."""
        self._require_batch(actor)
        if not 1 <= month <= 12:
            raise ValidationError("month must be 1..12", field="month")
        posted = 0
        for cur in LEDGER_CURRENCIES:
            with self._read() as conn:
                if not interest.has_pending(conn, year, month, cur):
                    continue
            expense = self.internal_account_id(InternalAccount.INTEREST_EXPENSE, cur)
            with self._write() as conn:
                results = interest.capitalise(
                    conn, year, month, cur, expense, self.clock.now(), actor
                )
                posted += len(results)
                self._emit(
                    conn,
                    *(self._posted_event(r, None, owner, "batch", None) for r, owner in results),
                )
        return posted

    def _require_batch(self, actor: Principal) -> None:
        actor.require_scope("accounts:write")
        if _is_customer(actor):
            raise PermissionDenied("interest runs are bank batch jobs")

    # ------------------------------------------------------------------ bulk (seeding, replay)
    def open_customers_bulk(
        self,
        actor: Principal,
        specs: Sequence[NewCustomerSpec],
        *,
        batch_size: int = 5000,
        emit_events: bool = True,
    ) -> list[OpenedCustomer]:
        """Open many customers with accounts and opening balances, few transactions.

        Each opening balance is one balanced entry from the bank's funding account. Customers
        whose ``external_ref`` already exists are skipped (their ids are returned), so a rerun
        of a seeding job adds nothing twice.
        """
        self._require_batch(actor)
        actor.require_scope("customers:write")
        out: list[OpenedCustomer] = []
        for start in range(0, len(specs), batch_size):
            chunk = specs[start : start + batch_size]
            funding = {
                cur: self.internal_account_id(InternalAccount.FUNDING, cur)
                for cur in {a.opening_balance.code for s in chunk for a in s.accounts}
            }
            with self._write() as conn:
                opened, events = bulk.open_customers(
                    conn, chunk, funding, self.clock.now(), actor, emit_events
                )
                if events:
                    self._emit(conn, *events)
            out.extend(opened)
        return out

    def post_card_transactions(
        self,
        actor: Principal,
        items: Sequence[CardTransaction],
        *,
        batch_size: int = 5000,
        emit_events: bool = True,
    ) -> CardBatchResult:
        """Replay card payments: debit each customer account, credit card settlement.

        A payment the account cannot cover (or on a frozen/closed account) is declined and
        posts nothing; a key already posted is skipped. Each payment is its own entry.
        """
        self._require_batch(actor)
        actor.require_scope("transfers:write")
        total = CardBatchResult(0, 0, 0, [])
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            settlement = {
                cur: self.internal_account_id(InternalAccount.CARD_SETTLEMENT, cur)
                for cur in {i.amount.code for i in chunk}
            }
            with self._write() as conn:
                res, events = bulk.post_card_transactions(
                    conn, chunk, settlement, actor, self.clock.now(), emit_events
                )
                if events:
                    self._emit(conn, *events)
            total = CardBatchResult(
                total.posted + res.posted,
                total.declined + res.declined,
                total.duplicates + res.duplicates,
                total.declined_keys + res.declined_keys,
            )
        return total


# ---------------------------------------------------------------------- helpers
def _scoped(actor: Principal, key: str) -> str:
    """Idempotency keys belong to the client that chose them."""
    return f"{actor.kind.value}:{actor.id}:{key}"


def _enum(cls: type[_E], value: Any, field: str) -> _E:
    try:
        return cls(value)
    except ValueError:
        allowed = ", ".join(str(v.value) for v in cls)
        raise ValidationError(f"must be one of: {allowed}", field=field) from None


def _rate(value: Decimal | str | None, kind: AccountKind) -> Decimal | None:
    if value is None:
        return None
    if kind is not AccountKind.SAVINGS:
        raise ValidationError("only savings accounts earn interest", field="interest_rate")
    if isinstance(value, float) or not isinstance(value, (Decimal, str)):
        raise ValidationError("rate must be a decimal string", field="interest_rate")
    try:
        rate = Decimal(value)
    except ArithmeticError:
        raise ValidationError("rate must be a decimal", field="interest_rate") from None
    if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):
        raise ValidationError("annual rate must be between 0 and 1", field="interest_rate")
    if -rate.as_tuple().exponent > 6:  # type: ignore[operator]
        raise ValidationError("at most 6 decimal places", field="interest_rate")
    return rate


def _aware(value: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns; they were stored as UTC.
    from datetime import UTC

    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _customer(row: RowMapping) -> Customer:
    return Customer(
        id=row["id"],
        kind=CustomerKind(row["kind"]),
        display_name=row["display_name"],
        status=row["status"],
        created_at=_aware(row["created_at"]),
        external_ref=row["external_ref"],
    )


def _account(row: RowMapping) -> Account:
    cur = row["currency"]
    return Account(
        id=row["id"],
        customer_id=row["customer_id"],
        kind=AccountKind(row["kind"]),
        currency=cur,
        status=AccountStatus(row["status"]),
        balance=Money.from_minor(int(row["balance_minor"]), cur),
        held=Money.from_minor(int(row["held_minor"]), cur),
        floor=Money.from_minor(int(row["floor_minor"]), cur),
        created_at=_aware(row["created_at"]),
        interest_rate=None if row["interest_rate"] is None else Decimal(row["interest_rate"]),
        internal_code=row["internal_code"],
    )


def _hold(row: RowMapping, *, replayed: bool = False) -> Hold:
    return Hold(
        id=row["id"],
        account_id=row["account_id"],
        amount=Money.from_minor(int(row["amount_minor"]), row["currency"]),
        status=HoldStatus(row["status"]),
        created_at=_aware(row["created_at"]),
        expires_at=None if row["expires_at"] is None else _aware(row["expires_at"]),
        description=row["description"],
        capture_entry_id=row["capture_entry_id"],
        replayed=replayed,
    )


__all__ = ["BankingService"]
