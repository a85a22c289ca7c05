"""Holds: reserve an amount (guarded, like any money out), capture it, release or expire it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from finbridge.banking import events
from finbridge.banking.guard import GuardDecision, PostingIntent
from finbridge.banking.ledger import (
    EntrySpec,
    Leg,
    Replay,
    apply_legs,
    fingerprint,
    insert_ignoring_conflict,
    post_entry,
)
from finbridge.banking.models import EntryKind, Hold, HoldStatus, PostingResult
from finbridge.banking.service._checks import (
    aware,
    hold_from,
    is_customer,
    owner_of,
    positive,
    scoped,
    text,
    valid_account_id,
    valid_key,
)
from finbridge.banking.service._core import ServiceCore, accounts
from finbridge.banking.tables import holds_table
from finbridge.core.errors import (
    Conflict,
    FinbridgeError,
    IdempotencyConflict,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal

holds = holds_table


class HoldCommands(ServiceCore):
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
        key = valid_key(idempotency_key)
        amount = positive(amount)
        acc_id = valid_account_id(account_id)
        description = text(description, "description")
        now = self.clock.now()
        if expires_at is not None and expires_at <= now:
            raise ValidationError("expiry must be in the future", field="expires_at")
        scoped_key = scoped(actor, key)
        fp = fingerprint("hold", acc_id, amount.minor, amount.code, description)
        owner = owner_of(actor)
        intent: PostingIntent | None = None
        decision: GuardDecision | None = None
        with self._read() as conn:
            stored = self._stored_hold(conn, scoped_key, fp)
            if stored is not None:
                return stored  # idempotency first: no second decision for a retry
            self._refused(conn, scoped_key, fp)  # nor a second answer to a refused one
            owners = self._owners(conn, acc_id) if self._guarded else {}
        if self._guarded:
            if acc_id not in owners or (owner is not None and owners[acc_id] != owner):
                raise NotFound(f"account {acc_id} not found", field="account_id")
            intent = PostingIntent(
                actor=actor,
                kind="hold",
                from_account_id=acc_id,
                to_account_id=None,
                from_customer_id=owners[acc_id],
                to_customer_id=None,
                amount=amount,
                occurred_at=now,
                idempotency_key=key,
                channel=None,
                metadata={"expires_at": None if expires_at is None else expires_at.isoformat()},
            )
            try:
                decision = self._decide(intent)
            except FinbridgeError as exc:
                self._remember_refusal(scoped_key, fp, exc)
                raise
        hold_id = new_id()
        try:
            with self._write() as conn:
                leg = Leg(acc_id, amount.code, 0, release_held=-amount.minor, owner=owner)
                applied = apply_legs(conn, [leg])
                stmt = insert_ignoring_conflict(conn, holds, "idempotency_key").returning(
                    holds.c.id
                )
                row = conn.execute(
                    stmt,
                    {
                        "id": hold_id,
                        "account_id": acc_id,
                        "currency": amount.code,
                        "amount_minor": amount.minor,
                        "status": "active",
                        "idempotency_key": scoped_key,
                        "request_fingerprint": fp,
                        "description": description,
                        "created_at": now,
                        "expires_at": expires_at,
                        "settled_at": None,
                        "capture_entry_id": None,
                    },
                ).first()
                if row is None:
                    raise Replay(scoped_key)
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
        except (Replay, FinbridgeError) as exc:
            with self._read() as conn:
                found = self._stored_hold(conn, scoped_key, fp)
            if intent is not None and decision is not None:
                reason = "replayed" if found is not None else f"{getattr(exc, 'code', '')}: {exc}"
                self._settle(intent, decision, posted=False, reason=reason)
            if found is None:
                self._remember_refusal(scoped_key, fp, exc)
                raise
            return found
        if intent is not None and decision is not None:
            self._settle(intent, decision, posted=True)
        return self.get_hold(actor, hold_id)

    def _stored_hold(self, conn: Connection, scoped_key: str, fp: str) -> Hold | None:
        found = conn.execute(select(holds).where(holds.c.idempotency_key == scoped_key)).first()
        if found is None:
            return None
        if found.request_fingerprint != fp:
            raise IdempotencyConflict(
                "this idempotency key was used for a different request", field="idempotency_key"
            )
        return hold_from(found._mapping, replayed=True)

    def get_hold(self, actor: Principal, hold_id: str) -> Hold:
        with self._read() as conn:
            return self._load_hold(actor, hold_id, conn)

    def _load_hold(self, actor: Principal, hold_id: str, conn: Connection) -> Hold:
        if not is_customer(actor):
            actor.require_scope("accounts:read")
        row = conn.execute(
            select(holds, accounts.c.customer_id)
            .join(accounts, accounts.c.id == holds.c.account_id)
            .where(holds.c.id == hold_id)
        ).first()
        if row is None or (is_customer(actor) and row.customer_id != actor.customer_id):
            raise NotFound(f"hold {hold_id} not found", field="hold_id")
        return hold_from(row._mapping)

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
        """Post a held amount (all of it, or less) to ``to_account_id``; the rest is released.

        Not guarded again: the guard decided when the hold was placed.
        """
        actor.require_scope("transfers:write")
        if is_customer(actor):
            raise PermissionDenied("holds are captured by the payment engines")
        key = valid_key(idempotency_key)
        dst = valid_account_id(to_account_id, "to_account_id")
        description = text(description, "description")
        with self._read() as conn:
            hold = self._load_hold(actor, hold_id, conn)
        capture = hold.amount if amount is None else positive(amount)
        if capture.code != hold.amount.code:
            raise ValidationError(f"the hold is in {hold.amount.code}", field="currency")
        if capture > hold.amount:
            raise ValidationError("cannot capture more than the hold", field="amount")
        scoped_key = scoped(actor, key)
        fp = fingerprint("capture", hold_id, dst, capture.minor, capture.code, description)
        now = self.clock.now()
        entry_id = new_id()
        result = PostingResult(
            entry_id, EntryKind.HOLD_CAPTURE, capture, hold.account_id, dst, now, description
        )
        try:
            with self._write() as conn:
                taken = conn.execute(
                    update(holds)
                    .where(holds.c.id == hold_id, holds.c.status == "active")
                    .values(status="captured", settled_at=now, capture_entry_id=entry_id)
                    .returning(holds.c.expires_at)
                ).first()
                if taken is None:
                    raise Conflict("the hold is no longer active", field="hold_id")
                expiry = taken.expires_at
                if expiry is not None and aware(expiry) <= now:
                    raise Conflict("the hold has expired", field="hold_id")
                cur = capture.code
                legs = [
                    Leg(hold.account_id, cur, -capture.minor, release_held=hold.amount.minor),
                    Leg(dst, cur, capture.minor, field="to_account_id"),
                ]
                spec = EntrySpec(
                    entry_id, EntryKind.HOLD_CAPTURE.value, scoped_key, fp, result.to_json(),
                    description, {"hold_id": hold_id}, actor.id, now,
                )  # fmt: skip
                owners = {a.account_id: a.customer_id for a in post_entry(conn, legs, spec)}
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
                    events.transaction_posted(
                        result,
                        from_customer_id=owners.get(hold.account_id),
                        to_customer_id=owners.get(dst),
                        channel="card",
                    ),
                )
        except (Replay, FinbridgeError) as exc:
            replay = self._replay(scoped_key, fp, PostingResult)
            if replay is not None:
                return replay
            if isinstance(exc, Replay):  # pragma: no cover
                raise Conflict("idempotency key vanished", field="idempotency_key") from None
            raise
        return result

    def release_hold(self, actor: Principal, hold_id: str, *, reason: str = "released") -> Hold:
        """Give the reserved amount back; releasing a released hold returns it unchanged."""
        actor.require_scope("transfers:write")
        if is_customer(actor):
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
        if is_customer(actor):
            raise PermissionDenied("holds are expired by the platform")
        now = self.clock.now()
        with self._write() as conn:
            rows = conn.execute(
                select(holds.c.id).where(
                    holds.c.status == "active",
                    holds.c.expires_at.is_not(None),
                    holds.c.expires_at <= now,
                )
            ).all()
            for row in rows:
                self._release(conn, self._load_hold(actor, row.id, conn), HoldStatus.EXPIRED)
        return len(rows)

    def _release(self, conn: Connection, hold: Hold, status: HoldStatus, reason: str = "") -> None:
        changed = conn.execute(
            update(holds)
            .where(holds.c.id == hold.id, holds.c.status == "active")
            .values(status=status.value, settled_at=self.clock.now())
        ).rowcount
        if not changed:
            return
        # Giving a reservation back moves no money and only makes more available, so it is
        # not a debit: it holds on frozen accounts too, where the posting rule would refuse.
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
