"""Money movements: transfers and teller cash, through the one posting path.

A movement is: validate; if a guard is wired, return the stored first result of a known
idempotency key *before* the guard runs, then ask the guard; post (PostgreSQL: one autocommit
statement with its event; SQLite: one short transaction); tell the guard how it ended.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from finbridge.banking.guard import GuardDecision, PostingIntent, Verdict
from finbridge.banking.ledger import (
    EntrySpec,
    KnownRefusal,
    Leg,
    Replay,
    fingerprint,
)
from finbridge.banking.models import EntryKind, InternalAccount, PostingResult
from finbridge.banking.service._approvals import ApprovalCommands
from finbridge.banking.service._checks import (
    is_customer,
    owner_of,
    positive,
    scoped,
    text,
    valid_account_id,
    valid_key,
)
from finbridge.banking.service._policy import operator_policy, threshold_reached
from finbridge.core.errors import (
    Conflict,
    FinbridgeError,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal, PrincipalKind


class MovementCommands(ApprovalCommands):
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
        key = valid_key(idempotency_key)
        amount = positive(amount)
        src = valid_account_id(from_account_id, "from_account_id")
        dst = valid_account_id(to_account_id, "to_account_id")
        if src == dst:
            raise ValidationError("cannot transfer to the same account", field="to_account_id")
        description = text(description, "description")
        # The bank's own accounts may go negative: only the platform itself may move money in
        # or out of them by transfer (tellers use deposit/withdraw).
        bank_refused = actor.kind is not PrincipalKind.SYSTEM
        legs = [
            Leg(src, amount.code, -amount.minor, owner=owner_of(actor),
                customers_only=bank_refused, field="from_account_id"),
            Leg(dst, amount.code, amount.minor, customers_only=bank_refused,
                field="to_account_id"),
        ]  # fmt: skip
        return self._move(
            actor, EntryKind.TRANSFER, key, amount, legs, description, channel, metadata
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
        key: str,
        description: str,
        metadata: Mapping[str, Any] | None,
    ) -> PostingResult:
        actor.require_scope("transfers:write")
        actor.require_scope("accounts:write")
        if is_customer(actor):
            raise PermissionDenied("cash deposits and withdrawals are teller operations")
        key = valid_key(key)
        amount = positive(amount)
        account = valid_account_id(account_id)
        description = text(description, "description")
        cash = self.internal_account_id(InternalAccount.CASH, amount.code)
        src, dst = (cash, account) if kind is EntryKind.DEPOSIT else (account, cash)
        legs = [Leg(src, amount.code, -amount.minor), Leg(dst, amount.code, amount.minor)]
        return self._move(actor, kind, key, amount, legs, description, "branch", metadata)

    def _move(
        self,
        actor: Principal,
        kind: EntryKind,
        key: str,
        amount: Money,
        legs: list[Leg],
        description: str,
        channel: str | None,
        metadata: Mapping[str, Any] | None,
    ) -> PostingResult:
        src, dst = legs[0].account_id, legs[1].account_id
        scoped_key = scoped(actor, key)
        fp = fingerprint(kind.value, src, dst, amount.minor, amount.code, description)
        now = self.clock.now()
        intent: PostingIntent | None = None
        decision: GuardDecision | None = None
        # Money the bank puts in (a teller deposit) needs no risk decision; money out does. An
        # operator's movement at or above the dual-control threshold always waits (_policy.py).
        due = threshold_reached(actor, kind.value, amount, self.dual_control)
        asks_guard = kind is not EntryKind.DEPOSIT and self._guarded
        guarded = asks_guard or due is not None
        # Without a guard nothing runs before the posting, which checks the key itself
        # (KnownRefusal, Replay): a new key costs no extra read (docs/decisions.md, Banking).
        if guarded:
            with self._read() as conn:
                # Idempotency first: a retry gets the first answer (a result or a definitive
                # refusal) and no guard runs again.
                stored = self._stored(conn, scoped_key, fp, PostingResult)
                if stored is not None:
                    return stored
                self._refused(conn, scoped_key, fp)
                # An operator's key may be waiting for a second operator (dual control).
                waiting = None
                if actor.kind is PrincipalKind.OPERATOR:
                    waiting = self._waiting_row(conn, scoped_key, fp)
                owners = self._owners(conn, src, dst)
            if waiting is not None:
                raise self._still_waiting(waiting)
            if src not in owners or (legs[0].owner and owners[src] != legs[0].owner):
                raise NotFound(f"account {src} not found", field=legs[0].field)
            if due is not None and dst not in owners:  # nothing may wait for a missing account
                raise NotFound(f"account {dst} not found", field=legs[1].field)
            intent = PostingIntent(
                actor=actor,
                kind=kind.value,
                from_account_id=src,
                to_account_id=dst,
                from_customer_id=owners.get(src),
                to_customer_id=owners.get(dst),
                amount=amount,
                occurred_at=now,
                idempotency_key=key,
                channel=channel,
                metadata=dict(metadata or {}),
            )
            try:
                asked = self.guard.check(intent) if asks_guard else GuardDecision.approve()
                decision = operator_policy(intent, asked, self.dual_control)
                if (
                    decision.verdict is Verdict.DUAL_CONTROL
                    and actor.kind is PrincipalKind.OPERATOR
                ):
                    raise self._await_second_operator(intent, scoped_key, fp, description, decision)
                decision = self._decided(decision)
            except FinbridgeError as exc:
                self._remember_refusal(scoped_key, fp, exc)  # a decline, never a step-up
                raise
        result = PostingResult(new_id(), kind, amount, src, dst, now, description)
        spec = EntrySpec(
            result.entry_id, kind.value, scoped_key, fp, result.to_json(), description,
            metadata, actor.id, now,
        )  # fmt: skip
        try:
            self._post(spec, result, legs, channel, metadata)
        except (Replay, KnownRefusal, FinbridgeError) as exc:
            # A racing duplicate of a command that already succeeded returns the first result,
            # whatever the accounts look like now.
            replay = self._replay(scoped_key, fp, PostingResult)
            if intent is not None and decision is not None and asks_guard:
                reason = "replayed" if replay is not None else _reason(exc)
                self._settle(intent, decision, posted=False, reason=reason)
            if replay is not None:
                return replay
            with self._read() as conn:  # a refusal stored under the key is the answer again
                self._refused(conn, scoped_key, fp)
            if isinstance(exc, Replay | KnownRefusal):  # pragma: no cover - found above
                raise Conflict("idempotency key vanished", field="idempotency_key") from None
            self._remember_refusal(scoped_key, fp, exc)
            raise
        if intent is not None and decision is not None and asks_guard:
            self._settle(intent, decision, posted=True)
        return result


def _reason(exc: BaseException) -> str:
    """A short machine-readable reason for the guard: the error's code and message."""
    if isinstance(exc, FinbridgeError):
        return f"{exc.code}: {exc}"
    return type(exc).__name__
