"""Customer consent records (PIPL): a purpose, a data scope, granted until withdrawn.

Engines call :meth:`ConsentService.require_consent` before using a customer's data for a purpose
(credit scoring with partner data, marketing, face recognition, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from finbridge.core.clock import Clock
from finbridge.core.errors import NotFound, PermissionDenied, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity.audit import AuditLog, foreign_object
from finbridge.identity.events import SOURCE
from finbridge.identity.tables import ConsentRow
from finbridge.lake import Event, emit
from finbridge.store.engine import unit_of_work

_TOKEN = re.compile(r"[a-z][a-z0-9_.:-]{1,63}")


class ConsentRequired(PermissionDenied):
    """The customer has not (or no longer) consented to this use of their data."""

    code = "consent_required"
    title = "Customer consent required"


@dataclass(frozen=True, slots=True)
class Consent:
    id: str
    customer_id: str
    purpose: str
    scope: tuple[str, ...]
    granted_at: datetime
    withdrawn_at: datetime | None

    @property
    def active(self) -> bool:
        return self.withdrawn_at is None


def _to_consent(row: ConsentRow) -> Consent:
    return Consent(
        row.id, row.customer_id, row.purpose, tuple(row.scope), row.granted_at, row.withdrawn_at
    )


class ConsentService:
    def __init__(self, engine: Engine, clock: Clock, audit: AuditLog) -> None:
        self._engine = engine
        self._clock = clock
        self._audit = audit

    def _check_actor(self, actor: Principal, customer_id: str) -> None:
        # Consent is the customer's own act; staff may record one given at a branch.
        if actor.kind is PrincipalKind.CUSTOMER:
            if not actor.can_act_for(customer_id):
                raise foreign_object(self._audit, actor.id, customer_id, "consents")
        else:
            actor.require_scope("customers:write")

    def grant(self, actor: Principal, customer_id: str, purpose: str, scope: list[str]) -> Consent:
        self._check_actor(actor, customer_id)
        if not _TOKEN.fullmatch(purpose or ""):
            raise ValidationError("purpose must be a short lower-case name", field="purpose")
        if not scope or not all(isinstance(s, str) and _TOKEN.fullmatch(s) for s in scope):
            raise ValidationError("scope must list the data categories covered", field="scope")
        now = self._clock.now()
        row = ConsentRow(
            id=new_id(),
            customer_id=customer_id,
            purpose=purpose,
            scope=sorted(set(scope)),
            granted_at=now,
            withdrawn_at=None,
        )
        with unit_of_work(self._engine) as session:
            session.add(row)
            self._audit.append(
                session,
                actor=actor.id,
                action="consent.grant",
                subject=customer_id,
                outcome="success",
                detail={"purpose": purpose, "scope": ",".join(row.scope)},
            )
            payload = {
                "consent_id": row.id,
                "purpose": purpose,
                "scope": row.scope,
                "granted": True,
            }
            emit(session, Event("identity.consent_changed", now, payload, SOURCE, customer_id))
        return _to_consent(row)

    def withdraw(self, actor: Principal, customer_id: str, consent_id: str) -> Consent:
        self._check_actor(actor, customer_id)
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            row = session.get(ConsentRow, consent_id)
            if row is None or row.customer_id != customer_id:
                raise NotFound(f"no consent {consent_id}", field="consent_id")
            if row.withdrawn_at is None:
                row.withdrawn_at = now
                self._audit.append(
                    session,
                    actor=actor.id,
                    action="consent.withdraw",
                    subject=customer_id,
                    outcome="success",
                    detail={"purpose": row.purpose},
                )
                payload = {
                    "consent_id": row.id,
                    "purpose": row.purpose,
                    "scope": list(row.scope),
                    "granted": False,
                }
                emit(session, Event("identity.consent_changed", now, payload, SOURCE, customer_id))
        return _to_consent(row)

    def list(self, actor: Principal, customer_id: str) -> list[Consent]:
        if actor.kind is PrincipalKind.CUSTOMER:
            if not actor.can_act_for(customer_id):
                raise foreign_object(self._audit, actor.id, customer_id, "consents")
        else:
            actor.require_scope("customers:read")
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(
                select(ConsentRow)
                .where(ConsentRow.customer_id == customer_id)
                .order_by(ConsentRow.granted_at)
            ).all()
        return [_to_consent(r) for r in rows]

    def has_consent(self, customer_id: str, purpose: str, data: str | None = None) -> bool:
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(
                select(ConsentRow).where(
                    ConsentRow.customer_id == customer_id,
                    ConsentRow.purpose == purpose,
                    ConsentRow.withdrawn_at.is_(None),
                )
            ).all()
        return any(data is None or data in r.scope for r in rows)

    def consenting(self, purpose: str) -> dict[str, frozenset[str]]:
        """Customers with an active consent to ``purpose`` and the data each covers (for a
        partner's data-sharing reads: purpose ``data_sharing:<partner key id>``)."""
        with unit_of_work(self._engine, write=False) as session:
            rows = session.execute(
                select(ConsentRow.customer_id, ConsentRow.scope).where(
                    ConsentRow.purpose == purpose, ConsentRow.withdrawn_at.is_(None)
                )
            ).all()
        shared: dict[str, frozenset[str]] = {}
        for customer_id, scope in rows:
            shared[customer_id] = shared.get(customer_id, frozenset()) | frozenset(scope)
        return shared

    def consenting_customers(self, purpose: str) -> set[str]:
        """Customers with an active consent to ``purpose`` (one read, for a campaign's
        thousands; :meth:`has_consent` answers for one)."""
        with unit_of_work(self._engine, write=False) as session:
            return set(
                session.scalars(
                    select(ConsentRow.customer_id).where(
                        ConsentRow.purpose == purpose, ConsentRow.withdrawn_at.is_(None)
                    )
                )
            )

    def require_consent(self, customer_id: str, purpose: str, data: str | None = None) -> None:
        """Raise :class:`ConsentRequired` unless an active consent covers ``purpose`` (and data)."""
        if not self.has_consent(customer_id, purpose, data):
            what = f"{purpose} ({data})" if data else purpose
            raise ConsentRequired(
                f"customer has not consented to {what}", field="consent", purpose=purpose
            )
