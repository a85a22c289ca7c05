"""Dual control: an operator's large movement waits for a second, different operator.

When banking's operator policy (``_policy.py``) answers ``DUAL_CONTROL`` for an operator's
transfer, teller withdrawal or teller deposit (at or above the currency's threshold whatever the
guard said, or a guard's step-up below it), the movement is not refused: it is kept as a pending
approval under the maker's own idempotency key, and the call raises ``PendingApproval`` (HTTP
202) naming it. Then:

* a different operator holding ``transfers:approve`` approves it: it posts through the one
  posting path under the maker's key and fingerprint, so it posts at most once whoever approves
  and however often (a crash between the approval and the posting is finished by approving
  again), and the maker's retry of that key gets the posted result;
* an operator holding ``transfers:approve`` declines it (the maker may withdraw their own): the
  maker's key keeps the refusal, like every business refusal;
* once ``approval_ttl`` has passed it can no longer be approved: it reads as expired at once,
  is closed by the close of business's sweep (:meth:`ApprovalCommands.expire_approvals`) or the
  next look at it, whichever comes first, and the key keeps that refusal.

Each transition is appended to identity's audit log (the ``ApprovalAudit`` port) in the same
transaction as the status change; the risk decision is settled with the posting's outcome.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from finbridge.banking.guard import GuardDecision, PostingDeclined, PostingIntent, Verdict
from finbridge.banking.ledger import EntrySpec, KnownRefusal, Leg, Replay, insert_ignoring_conflict
from finbridge.banking.models import EntryKind, InternalAccount, PostingResult
from finbridge.banking.service._checks import aware, is_customer, text
from finbridge.banking.service._core import _SESSION_KEY, ServiceCore
from finbridge.banking.tables import approvals_table
from finbridge.core.errors import (
    BusinessRuleViolation,
    Conflict,
    FinbridgeError,
    IdempotencyConflict,
    NotFound,
    PendingApproval,
    PermissionDenied,
)
from finbridge.core.ids import is_valid_id, new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal, PrincipalKind

APPROVE_SCOPE = "transfers:approve"
STATUSES = ("pending", "approved", "declined", "expired", "failed")
approvals = approvals_table


class ApprovalExpired(BusinessRuleViolation):
    """Nobody approved the movement in time; the maker's key keeps this answer."""

    code = "approval_expired"
    title = "The approval request expired"


@dataclass(frozen=True, slots=True)
class Approval:
    """A movement waiting for (or decided by) a second operator."""

    id: str
    kind: str
    from_account_id: str
    to_account_id: str
    amount: Money
    description: str
    maker_id: str
    reasons: tuple[str, ...]
    status: str  # pending, approved, declined, expired, failed
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str
    entry_id: str | None

    @classmethod
    def of(cls, row: Row[Any], now: datetime) -> Approval:
        expires = aware(row.expires_at)
        # Expiry is a matter of time, so a pending request past it reads as expired before
        # anyone has touched it.
        status = "expired" if row.status == "pending" and now >= expires else row.status
        return cls(
            row.id, row.kind, row.from_account_id, row.to_account_id,
            Money.from_minor(row.amount_minor, row.currency), row.description, row.maker_id,
            tuple(row.reasons), status, aware(row.created_at), expires, row.decided_by,
            None if row.decided_at is None else aware(row.decided_at), row.note, row.entry_id,
        )  # fmt: skip


class ApprovalCommands(ServiceCore):
    # ------------------------------------------------------------------ reads
    def approvals(
        self, actor: Principal, *, status: str | None = None, limit: int = 100
    ) -> list[Approval]:
        """Newest first; ``status`` filters by what a person sees now (expiry included)."""
        self._require_operator(actor)
        if status is not None and status not in STATUSES:
            raise NotFound(f"no approval status {status!r}", field="status")
        now = self.clock.now()
        stmt = select(approvals).order_by(approvals.c.created_at.desc(), approvals.c.id)
        if status in ("pending", "expired"):
            stmt = stmt.where(approvals.c.status.in_(("pending", status)))
        elif status is not None:
            stmt = stmt.where(approvals.c.status == status)
        found: list[Approval] = []
        with self._read() as conn:
            for row in conn.execute(stmt):
                item = Approval.of(row, now)
                if status is None or item.status == status:
                    found.append(item)
                    if len(found) >= max(1, min(limit, 500)):
                        break
        return found

    def approval(self, actor: Principal, approval_id: str) -> Approval:
        self._require_operator(actor)
        with self._read() as conn:
            return Approval.of(self._approval_row(conn, approval_id), self.clock.now())

    # ------------------------------------------------------------------ decisions
    def approve(self, actor: Principal, approval_id: str, *, note: str = "") -> PostingResult:
        """Approve as the second operator and post, exactly once (a repeat returns the entry)."""
        self._require_checker(actor)
        note = text(note, "note")
        now = self.clock.now()
        expired: ApprovalExpired | PostingDeclined | None = None
        with self._write() as conn:
            row = self._approval_row(conn, approval_id)
            if row.maker_id == actor.id:
                raise PermissionDenied(
                    "dual control: the operator who asked cannot approve it", field="approval_id"
                )
            if row.status == "pending" and now >= aware(row.expires_at):
                expired = self._close(conn, row, "expired", actor, now, note)
            elif row.status == "pending":
                if self._claim(conn, row, "approved", actor, now, note):
                    self._audit(conn, row, actor, "approved", note)
                row = self._approval_row(conn, approval_id)
            if row.status == "expired":  # closed by the sweep or an earlier look
                expired = self._refusal(row, "expired", None, "")
            elif expired is None and row.status != "approved":
                raise Conflict(f"approval {approval_id} is {row.status}", field="approval_id")
        if expired is not None:
            raise expired
        return self._post_approved(actor, row)

    def decline(self, actor: Principal, approval_id: str, *, note: str = "") -> Approval:
        """Decline (or, as its maker, withdraw) a pending request; its key keeps the refusal."""
        self._require_checker(actor)
        note = text(note, "note")
        now = self.clock.now()
        with self._write() as conn:
            row = self._approval_row(conn, approval_id)
            if row.status != "pending":
                raise Conflict(f"approval {approval_id} is {row.status}", field="approval_id")
            outcome = "expired" if now >= aware(row.expires_at) else "declined"
            self._close(conn, row, outcome, actor, now, note)
            row = self._approval_row(conn, approval_id)
        return Approval.of(row, now)

    def expire_approvals(self, actor: Principal, *, limit: int = 1000) -> int:
        """Close every pending request past its expiry (the close of business runs this); each
        is audited as expired by ``actor`` and its maker's key keeps the refusal. Returns how
        many; idempotent (a request someone decided meanwhile is left alone)."""
        actor.require_scope("transfers:write")
        if actor.kind is not PrincipalKind.SYSTEM:
            raise PermissionDenied("approvals are expired by the platform")
        now = self.clock.now()
        expired = 0
        with self._read() as conn:
            due = conn.execute(
                select(approvals.c.id)
                .where(approvals.c.status == "pending", approvals.c.expires_at <= now)
                .order_by(approvals.c.expires_at, approvals.c.id)
                .limit(max(1, limit))
            ).all()
        for (approval_id,) in due:
            # One short transaction each: a sweep never holds the writer for the whole queue.
            with self._write() as conn:
                row = self._approval_row(conn, approval_id)
                refusal = self._refusal(row, "expired", actor, "")
                expired += self._record_close(conn, row, "expired", actor, now, "", refusal)
        return expired

    # ------------------------------------------------------------------ from _move
    def _await_second_operator(
        self, intent: PostingIntent, scoped_key: str, fp: str, description: str,
        decision: GuardDecision,
    ) -> PendingApproval:  # fmt: skip
        """Keep the movement as a pending approval (a racing duplicate finds the first one)."""
        now = intent.occurred_at
        new = new_id()
        with self._write() as conn:
            conn.execute(
                insert_ignoring_conflict(conn, approvals, "idempotency_key"),
                {
                    "id": new, "idempotency_key": scoped_key, "request_fingerprint": fp,
                    "kind": intent.kind, "from_account_id": intent.from_account_id,
                    "to_account_id": intent.to_account_id or "",
                    "amount_minor": intent.amount.minor, "currency": intent.amount.code,
                    "description": description, "channel": intent.channel,
                    "details": _json_safe(intent.metadata), "maker_id": intent.actor.id,
                    "reasons": list(decision.reasons), "guard_version": decision.version[:200],
                    "status": "pending", "created_at": now,
                    "expires_at": now + self.approval_ttl, "decided_by": None,
                    "decided_at": None, "note": "", "entry_id": None,
                },
            )  # fmt: skip
            row = self._waiting_row(conn, scoped_key, fp)
            assert row is not None  # inserted, or a racing duplicate's
            if row.id == new:
                self._audit(conn, row, intent.actor, "requested", "")
        return _pending(Approval.of(row, now))

    def _waiting_row(self, conn: Connection, scoped_key: str, fp: str) -> Row[Any] | None:
        row = conn.execute(
            select(approvals).where(approvals.c.idempotency_key == scoped_key)
        ).first()
        if row is not None and row.request_fingerprint != fp:
            raise IdempotencyConflict(
                "this idempotency key was used for a different request", field="idempotency_key"
            )
        return row

    def _still_waiting(self, row: Row[Any]) -> FinbridgeError:
        """What a retry of a key that is waiting for approval gets: the pending request again,
        or (past its expiry) the expiry, which the key then keeps."""
        now = self.clock.now()
        if row.status == "pending" and now >= aware(row.expires_at):
            with self._write() as conn:
                fresh = self._approval_row(conn, row.id)
                if fresh.status == "pending":
                    return self._close(conn, fresh, "expired", None, now, "")
        return _pending(Approval.of(row, now))

    # ------------------------------------------------------------------ internals
    def _require_operator(self, actor: Principal) -> None:
        if is_customer(actor):
            raise PermissionDenied("approvals are for bank operators")
        if not (actor.has_scope(APPROVE_SCOPE) or actor.has_scope("transfers:write")):
            raise PermissionDenied(f"{actor.display or actor.id} lacks scope {APPROVE_SCOPE!r}")

    def _require_checker(self, actor: Principal) -> None:
        if is_customer(actor):
            raise PermissionDenied("approvals are for bank operators")
        actor.require_scope(APPROVE_SCOPE)

    def _approval_row(self, conn: Connection, approval_id: str) -> Row[Any]:
        row = None
        if isinstance(approval_id, str) and is_valid_id(approval_id):
            row = conn.execute(select(approvals).where(approvals.c.id == approval_id)).first()
        if row is None:
            raise NotFound(f"approval {approval_id!r} not found", field="approval_id")
        return row

    def _claim(
        self, conn: Connection, row: Row[Any], status: str, actor: Principal | None,
        now: datetime, note: str,
    ) -> bool:  # fmt: skip
        """Move a pending request to ``status``; False if someone else decided it first."""
        done = conn.execute(
            update(approvals)
            .where(approvals.c.id == row.id, approvals.c.status == "pending")
            .values(
                status=status, decided_by=None if actor is None else actor.id, decided_at=now,
                note=note,
            )
        )  # fmt: skip
        return done.rowcount == 1

    def _close(
        self, conn: Connection, row: Row[Any], status: str, actor: Principal | None,
        now: datetime, note: str,
    ) -> ApprovalExpired | PostingDeclined:  # fmt: skip
        """Decline or expire: the status, the maker key's refusal and the audit record in the
        caller's transaction."""
        refusal = self._refusal(row, status, actor, note)
        self._record_close(conn, row, status, actor, now, note, refusal)
        return refusal

    def _refusal(
        self, row: Row[Any], status: str, actor: Principal | None, note: str
    ) -> ApprovalExpired | PostingDeclined:
        if status == "expired":
            return ApprovalExpired(
                f"approval {row.id} expired at {aware(row.expires_at).isoformat()}: no second "
                f"operator approved it within {self.approval_ttl}, so nothing was posted; ask "
                "again with a new idempotency key",
                field="idempotency_key", approval_id=row.id,
            )  # fmt: skip
        why = f"declined by a second operator ({actor.id if actor else 'unknown'})"
        return PostingDeclined((f"{why}: {note}" if note else why,), "dual-control")

    def _record_close(
        self, conn: Connection, row: Row[Any], status: str, actor: Principal | None,
        now: datetime, note: str, refusal: BusinessRuleViolation,
    ) -> bool:  # fmt: skip
        """True if this call closed ``row`` (False: someone decided it first)."""
        if not self._claim(conn, row, status, actor, now, note):
            return False
        self._insert_refusal(conn, row.idempotency_key, row.request_fingerprint, refusal)
        self._audit(conn, row, actor, status, note)
        return True

    def _post_approved(self, actor: Principal, row: Row[Any]) -> PostingResult:
        amount = Money.from_minor(row.amount_minor, row.currency)
        kind = EntryKind(row.kind)
        metadata = {**dict(row.details or {}), "approved_by": row.decided_by or actor.id}
        now = self.clock.now()
        result = PostingResult(
            new_id(), kind, amount, row.from_account_id, row.to_account_id, now, row.description
        )
        spec = EntrySpec(
            result.entry_id, kind.value, row.idempotency_key, row.request_fingerprint,
            result.to_json(), row.description, metadata, row.maker_id, now,
        )  # fmt: skip
        intent = PostingIntent(
            actor=actor, kind=kind.value, from_account_id=row.from_account_id,
            to_account_id=row.to_account_id, from_customer_id=None, to_customer_id=None,
            amount=amount, occurred_at=now, idempotency_key=row.idempotency_key,
            channel=row.channel, metadata=metadata,
        )  # fmt: skip
        decision = GuardDecision(Verdict.APPROVE, tuple(row.reasons), row.guard_version)
        try:
            self._post(spec, result, self._legs(kind, amount, row), row.channel, metadata)
        except (Replay, KnownRefusal, FinbridgeError) as exc:
            replay = self._replay(row.idempotency_key, row.request_fingerprint, PostingResult)
            if replay is not None:  # posted already (a repeat, or a crash after the posting)
                self._record_entry(row.id, replay.entry_id)
                return replay
            if not isinstance(exc, FinbridgeError):  # pragma: no cover - a refusal is stored
                raise Conflict("the approved posting vanished", field="approval_id") from None
            self._fail(row, actor, exc)
            if kind is not EntryKind.DEPOSIT:  # money in has no guard decision to settle
                self._settle(intent, decision, posted=False, reason=f"{exc.code}: {exc}")
            raise
        self._record_entry(row.id, result.entry_id)
        if kind is not EntryKind.DEPOSIT:
            self._settle(intent, decision, posted=True)
        return result

    def _legs(self, kind: EntryKind, amount: Money, row: Row[Any]) -> list[Leg]:
        """The legs the maker's own call would have posted (an operator's transfer stays
        between customers' accounts; a withdrawal pays out of the bank's cash)."""
        src, dst = row.from_account_id, row.to_account_id
        if kind is EntryKind.WITHDRAWAL:
            dst = self.internal_account_id(InternalAccount.CASH, amount.code)
        if kind is EntryKind.DEPOSIT:
            src = self.internal_account_id(InternalAccount.CASH, amount.code)
        if kind is not EntryKind.TRANSFER:
            return [Leg(src, amount.code, -amount.minor), Leg(dst, amount.code, amount.minor)]
        return [
            Leg(src, amount.code, -amount.minor, customers_only=True, field="from_account_id"),
            Leg(dst, amount.code, amount.minor, customers_only=True, field="to_account_id"),
        ]

    def _record_entry(self, approval_id: str, entry_id: str) -> None:
        with self._write() as conn:
            conn.execute(
                update(approvals).where(approvals.c.id == approval_id).values(entry_id=entry_id)
            )

    def _fail(self, row: Row[Any], actor: Principal, exc: FinbridgeError) -> None:
        """The ledger refused the approved posting (funds gone meanwhile): the request ends
        as failed, the maker's key keeps the refusal, and the audit log says why."""
        with self._write() as conn:
            done = conn.execute(
                update(approvals)
                .where(approvals.c.id == row.id, approvals.c.status == "approved")
                .values(status="failed", note=f"{exc.code}: {exc}"[:500])
            )
            if done.rowcount == 1:
                if isinstance(exc, BusinessRuleViolation):
                    self._insert_refusal(conn, row.idempotency_key, row.request_fingerprint, exc)
                self._audit(conn, row, actor, "failed", f"{exc.code}: {exc}")

    def _audit(
        self, conn: Connection, row: Row[Any], actor: Principal | None, outcome: str, note: str
    ) -> None:
        if self.audit is None:
            return
        detail: dict[str, Any] = {
            "kind": row.kind,
            "amount": str(Money.from_minor(row.amount_minor, row.currency)),
            "from_account_id": row.from_account_id,
            "to_account_id": row.to_account_id,
            "maker": row.maker_id,
        }
        if note:
            detail["note"] = note[:300]
        self.audit.append(
            conn.info[_SESSION_KEY],
            actor=actor.id if actor is not None else "system:approvals",
            action=f"banking.approval.{outcome}",
            subject=row.id,
            outcome=outcome,
            detail=detail,
        )


def _pending(item: Approval) -> PendingApproval:
    return PendingApproval(
        f"{item.amount} needs a second operator's approval (dual control) before it posts; "
        f"approval {item.id} expires at {item.expires_at.isoformat()}",
        approval_id=item.id,
        approval_status=item.status,
        expires_at=item.expires_at.isoformat(),
    )


def _json_safe(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metadata.items() if isinstance(v, str | int | bool) or v is None}
