"""Customers' requests to correct or delete their personal data (PIPL arts. 46-47), recorded
for an operator to handle.

Nothing is changed or erased automatically: a correction needs the new value checked (KYC) and a
deletion must honour retention rules (ledger and AML records are kept for the legal period, see
:data:`RETENTION_NOTE`), so the request is stored, audited and worked by staff, who record the
outcome. The customer sees their requests and their state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine, select

from finbridge.core.clock import Clock
from finbridge.core.errors import Conflict, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity.audit import AuditLog, foreign_object
from finbridge.identity.tables import PrivacyRequestRow
from finbridge.store.engine import unit_of_work

RequestKind = Literal["correction", "deletion"]
KINDS: tuple[str, ...] = ("correction", "deletion")
OUTCOMES: tuple[str, ...] = ("done", "refused", "partly_done")
MAX_DETAIL = 2000
RETENTION_NOTE = (
    "Account and transaction records are kept for at least five years after the relationship "
    "ends (PRC Anti-Money Laundering Law, art. 34); other personal data is deleted."
)


@dataclass(frozen=True, slots=True)
class PrivacyRequest:
    id: str
    customer_id: str
    kind: str
    detail: str
    status: str  # open / done / refused / partly_done
    created_at: datetime
    closed_at: datetime | None
    resolution: str | None


def _view(row: PrivacyRequestRow) -> PrivacyRequest:
    return PrivacyRequest(
        row.id,
        row.customer_id,
        row.kind,
        row.detail,
        row.status,
        row.created_at,
        row.closed_at,
        row.resolution,
    )


class PrivacyRequests:
    def __init__(self, engine: Engine, clock: Clock, audit: AuditLog) -> None:
        self._engine = engine
        self._clock = clock
        self._audit = audit

    def _own(self, actor: Principal, customer_id: str) -> None:
        if actor.kind is PrincipalKind.CUSTOMER:
            if not actor.can_act_for(customer_id):
                raise foreign_object(self._audit, actor.id, customer_id, "privacy requests")
        else:
            actor.require_scope("customers:read")

    def submit(self, actor: Principal, customer_id: str, kind: str, detail: str) -> PrivacyRequest:
        """The customer's own act (staff may record one made at a branch)."""
        self._own(actor, customer_id)
        if actor.kind is not PrincipalKind.CUSTOMER:
            actor.require_scope("customers:write")
        if kind not in KINDS:
            raise ValidationError("kind must be correction or deletion", field="kind")
        detail = (detail or "").strip()
        if kind == "correction" and not detail:
            raise ValidationError("say what is wrong and what it should be", field="detail")
        if len(detail) > MAX_DETAIL:
            raise ValidationError(f"at most {MAX_DETAIL} characters", field="detail")
        row = PrivacyRequestRow(
            id=new_id(),
            customer_id=customer_id,
            kind=kind,
            detail=detail,
            status="open",
            created_at=self._clock.now(),
            closed_at=None,
            resolution=None,
            handled_by=None,
        )
        with unit_of_work(self._engine) as session:
            session.add(row)
            self._audit.append(
                session,
                actor=actor.id,
                action=f"privacy.{kind}_requested",
                subject=customer_id,
                outcome="success",
                detail={"request_id": row.id},
            )
        return _view(row)

    def open_requests(self, actor: Principal, limit: int = 100) -> list[PrivacyRequest]:
        """The operator's work queue, oldest first."""
        actor.require_scope("customers:write")
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(
                select(PrivacyRequestRow)
                .where(PrivacyRequestRow.status == "open")
                .order_by(PrivacyRequestRow.created_at)
                .limit(limit)
            ).all()
            return [_view(r) for r in rows]

    def close(
        self, actor: Principal, request_id: str, outcome: str, resolution: str
    ) -> PrivacyRequest:
        """Staff record what was done (and, for deletions, what retention kept)."""
        actor.require_scope("customers:write")
        if actor.kind is PrincipalKind.CUSTOMER:
            raise NotFound(f"no request {request_id}", field="request_id")
        if outcome not in OUTCOMES:
            raise ValidationError("outcome must be done, refused or partly_done", field="outcome")
        if not resolution.strip():
            raise ValidationError("say what was done", field="resolution")
        with unit_of_work(self._engine) as session:
            row = session.get(PrivacyRequestRow, request_id)
            if row is None:
                raise NotFound(f"no request {request_id}", field="request_id")
            if row.status != "open":
                raise Conflict("request is already closed", field="request_id")
            row.status, row.resolution = outcome, resolution.strip()[:MAX_DETAIL]
            row.closed_at, row.handled_by = self._clock.now(), actor.id
            self._audit.append(
                session,
                actor=actor.id,
                action=f"privacy.{row.kind}_closed",
                subject=row.customer_id,
                outcome="success",
                detail={"request_id": row.id, "outcome": outcome},
            )
            return _view(row)

    def list(self, actor: Principal, customer_id: str) -> list[PrivacyRequest]:
        self._own(actor, customer_id)
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(
                select(PrivacyRequestRow)
                .where(PrivacyRequestRow.customer_id == customer_id)
                .order_by(PrivacyRequestRow.created_at.desc())
            ).all()
            return [_view(r) for r in rows]
