"""The audit trail: every grant and every refusal, written in a transaction of its own so a
refused request (whose own work rolls back) is still recorded."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from finbridge.core.clock import Clock
from finbridge.core.ids import new_id
from finbridge.openbanking.consents import aware
from finbridge.openbanking.tables import AuditRow
from finbridge.store.engine import unit_of_work


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: str
    at: datetime
    action: str
    outcome: str
    client_id: str | None
    customer_id: str | None
    consent_id: str | None
    detail: str


class AuditTrail:
    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def record(
        self,
        action: str,
        outcome: str,
        detail: str = "",
        *,
        client_id: str | None = None,
        customer_id: str | None = None,
        consent_id: str | None = None,
    ) -> None:
        with unit_of_work(self._engine) as session:
            session.add(
                AuditRow(
                    id=new_id(),
                    at=self._clock.now(),
                    action=action,
                    outcome=outcome[:40],
                    client_id=client_id,
                    customer_id=customer_id,
                    consent_id=consent_id,
                    detail=detail[:2000],
                )
            )

    def recent(
        self, *, client_id: str | None = None, consent_id: str | None = None, limit: int = 100
    ) -> list[AuditRecord]:
        stmt = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id.desc()).limit(limit)
        if client_id is not None:
            stmt = stmt.where(AuditRow.client_id == client_id)
        if consent_id is not None:
            stmt = stmt.where(AuditRow.consent_id == consent_id)
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(stmt).all()
        return [
            AuditRecord(
                r.id,
                aware(r.at),
                r.action,
                r.outcome,
                r.client_id,
                r.customer_id,
                r.consent_id,
                r.detail,
            )
            for r in rows
        ]
