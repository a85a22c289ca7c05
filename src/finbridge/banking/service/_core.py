"""What every concept of the banking service shares: transactions, events, the guard."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, select

from finbridge.banking import events
from finbridge.banking.events import SOURCE
from finbridge.banking.guard import (
    ApprovalAudit,
    ApproveAll,
    GuardDecision,
    PostingDeclined,
    PostingGuard,
    PostingIntent,
    Verdict,
)
from finbridge.banking.ledger import (
    EntrySpec,
    Leg,
    compile_all,
    insert_ignoring_conflict,
    post_sqlite,
    post_standalone,
    stored_entry,
    warm_sqlite,
)
from finbridge.banking.models import Account, InternalAccount, JournalResult, PostingResult
from finbridge.banking.service._checks import account_from, is_customer
from finbridge.banking.service._policy import operator_policy
from finbridge.banking.tables import accounts_table, refusals_table
from finbridge.banking.writelock import writer_lock
from finbridge.core.clock import Clock
from finbridge.core.errors import (
    BusinessRuleViolation,
    IdempotencyConflict,
    NotFound,
    PermissionDenied,
    StepUpRequired,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money, currency
from finbridge.core.principal import Principal
from finbridge.core.settings import BankingSettings
from finbridge.lake import Event, emit
from finbridge.store.engine import is_sqlite, read_connection, unit_of_work

accounts = accounts_table
_SESSION_KEY = "finbridge.banking.session"
# What a key's stored first result is read back as: a two-leg posting or a journal entry.
Result = TypeVar("Result", PostingResult, JournalResult)
log = logging.getLogger("finbridge.banking")


class ServiceCore:
    """Engine, clock, guard and the helpers the concept modules build on."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        *,
        guard: PostingGuard | None = None,
        business_timezone: str = "Asia/Shanghai",
        audit: ApprovalAudit | None = None,
        approval_ttl: timedelta = timedelta(hours=24),
        dual_control: Mapping[str, Money] | None = None,
    ) -> None:
        self.engine = engine
        # Dual control: where approvals are audited, how long one waits before it expires,
        # and the per-currency thresholds (the settings' defaults unless given).
        self.audit = audit
        self.approval_ttl = approval_ttl
        self.dual_control: Mapping[str, Money] = (
            BankingSettings().dual_control_thresholds() if dual_control is None else dual_control
        )
        self.clock = clock
        self.guard: PostingGuard = guard or ApproveAll()
        self.business_timezone = business_timezone
        self._internal: dict[tuple[str, str], str] = {}
        self._write_lock: AbstractContextManager[Any] = nullcontext()
        if is_sqlite(engine):
            # Writers queue on a lock that wakes the next one (see writelock.py).
            self._write_lock = writer_lock(engine)
        # PostgreSQL posts a movement and its event as one autocommit statement.
        self._standalone = engine.dialect.name == "postgresql"

    def warm(self) -> None:
        """Compile the posting statements now, so the first posting costs what the second does
        (the platform calls this before a server reports ready)."""
        compile_all(self.engine.dialect)
        if is_sqlite(self.engine):
            warm_sqlite(self.engine.dialect)

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
        # Reads only: on PostgreSQL no BEGIN/ROLLBACK round trips (see store.read_connection).
        with read_connection(self.engine) as conn:
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

    def _require_batch(self, actor: Principal) -> None:
        actor.require_scope("accounts:write")
        if is_customer(actor):
            raise PermissionDenied("batch runs (interest, card replay, onboarding) are bank jobs")

    # ------------------------------------------------------------------ shared reads
    def _load_account(
        self, actor: Principal, account_id: str, conn: Connection | None = None
    ) -> Account:
        if not is_customer(actor):
            actor.require_scope("accounts:read")
        stmt = select(accounts).where(accounts.c.id == account_id)
        if conn is None:
            with self._read() as c:
                row = c.execute(stmt).first()
        else:
            row = conn.execute(stmt).first()
        if row is None or (is_customer(actor) and row.customer_id != actor.customer_id):
            raise NotFound(f"account {account_id} not found", field="account_id")
        return account_from(row._mapping)

    def _stored(
        self, conn: Connection, scoped_key: str, fp: str, as_type: type[Result]
    ) -> Result | None:
        """The first result posted under ``scoped_key``, if any; a different request is refused."""
        found = stored_entry(conn, scoped_key)
        if found is None:
            return None
        stored_fp, stored_result = found
        if stored_fp != fp:
            raise IdempotencyConflict(
                "this idempotency key was used for a different request", field="idempotency_key"
            )
        return as_type.from_json(stored_result, replayed=True)

    def _refused(self, conn: Connection, scoped_key: str, fp: str) -> None:
        """Raise the definitive refusal first given under ``scoped_key``, if there was one."""
        row = conn.execute(
            select(refusals_table).where(refusals_table.c.idempotency_key == scoped_key)
        ).first()
        if row is None:
            return
        if row.request_fingerprint != fp:
            raise IdempotencyConflict(
                "this idempotency key was used for a different request", field="idempotency_key"
            )
        raise StoredRefusal(row.code, row.title, row.detail, row.field, dict(row.extra or {}))

    def _remember_refusal(self, scoped_key: str, fp: str, exc: BaseException) -> None:
        """Keep a business refusal under its key (first one wins); anything else may be
        retried to another outcome (a step-up, a race, an outage, bad input)."""
        if not isinstance(exc, BusinessRuleViolation) or isinstance(exc, StoredRefusal):
            return
        with self._write() as conn:
            self._insert_refusal(conn, scoped_key, fp, exc)

    def _insert_refusal(
        self, conn: Connection, scoped_key: str, fp: str, exc: BusinessRuleViolation
    ) -> None:
        """Keep ``exc`` under ``scoped_key`` in the caller's transaction (first one wins)."""
        extra = {
            k: v for k, v in exc.extra.items() if isinstance(v, str | int | float | bool | list)
        }
        conn.execute(
            insert_ignoring_conflict(conn, refusals_table, "idempotency_key"),
            {
                "idempotency_key": scoped_key,
                "request_fingerprint": fp,
                "code": exc.code,
                "title": exc.title,
                "detail": exc.detail[:1000],
                "field": exc.field,
                "extra": extra,
                "created_at": self.clock.now(),
            },
        )

    def _replay(self, scoped_key: str, fp: str, as_type: type[Result]) -> Result | None:
        with self._read() as conn:
            return self._stored(conn, scoped_key, fp, as_type)

    def _owners(self, conn: Connection, *account_ids: str | None) -> dict[str, str | None]:
        ids = [a for a in account_ids if a]
        rows = conn.execute(
            select(accounts.c.id, accounts.c.customer_id).where(accounts.c.id.in_(ids))
        )
        return {r.id: r.customer_id for r in rows}

    # ------------------------------------------------------------------ the guard
    @property
    def _guarded(self) -> bool:
        # Approve-all decides nothing: skipping it keeps the unguarded path to one statement.
        return not isinstance(self.guard, ApproveAll)

    def _decide(self, intent: PostingIntent) -> GuardDecision:
        """Ask the guard; raise if it refuses (nothing was attempted, so nothing to settle)."""
        return self._decided(operator_policy(intent, self.guard.check(intent), self.dual_control))

    @staticmethod
    def _decided(decision: GuardDecision) -> GuardDecision:
        """``decision`` if it lets the posting run; raise its refusal otherwise."""
        _raise_if_refused(decision)
        return decision

    def _settle(
        self,
        intent: PostingIntent,
        decision: GuardDecision,
        *,
        posted: bool,
        reason: str | None = None,
    ) -> None:
        try:
            self.guard.settle(intent, decision, posted=posted, reason=reason)
        except Exception:
            log.exception("posting guard could not record the outcome of %s", intent.kind)

    def _post(
        self,
        spec: EntrySpec,
        result: PostingResult,
        legs: list[Leg],
        channel: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> None:
        """Post ``legs`` and the ``transaction.posted`` event atomically."""
        src, dst = result.from_account_id, result.to_account_id
        # The posting fills in the customer ids from the rows it moves.
        event = events.transaction_posted(
            result, from_customer_id=None, to_customer_id=None, channel=channel,
            metadata=metadata,
        )  # fmt: skip
        if self._standalone:  # PostgreSQL: one autocommit statement
            post_standalone(self.engine, legs, spec, event, (src, dst))
        else:  # SQLite: one BEGIN IMMEDIATE transaction on the driver, under the writer lock
            post_sqlite(self.engine, self._write_lock, legs, spec, event, (src, dst))

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
                conn.execute(
                    stmt,
                    {
                        "id": new_id(),
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


class StoredRefusal(BusinessRuleViolation):
    """A retry of a refused request: the first refusal again, code and detail unchanged."""

    def __init__(
        self, code: str, title: str, detail: str, field: str | None, extra: dict[str, Any]
    ) -> None:
        super().__init__(detail, field=field, **extra, replayed=True)
        self.code = code
        self.title = title


def _raise_if_refused(decision: GuardDecision) -> None:
    # Dual control outside a transfer or withdrawal (a hold, a journal entry) cannot wait for
    # a second operator: it stays a decline naming why.
    if decision.verdict in (Verdict.DECLINE, Verdict.DUAL_CONTROL):
        raise PostingDeclined(decision.reasons, decision.version)
    if decision.verdict is Verdict.STEP_UP:
        raise StepUpRequired(
            "; ".join(decision.reasons) or "confirm this payment with a second factor",
            reasons=list(decision.reasons),
            version=decision.version,
        )
