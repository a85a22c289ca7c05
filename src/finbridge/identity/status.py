"""One customer's identity status for people who look after it: the customer, or an operator.

Composes the person's masked record, their sessions and consents, and (for holders of
``audit:read`` only) the latest audit records about them. Each part is authorised by the
service that owns it; looking a customer up by mobile number needs ``customers:read`` first,
so the lookup itself reveals nothing to anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity.audit import AuditEntry, AuditLog, foreign_object
from finbridge.identity.consent import Consent, ConsentService
from finbridge.identity.persons import PersonService, PersonView
from finbridge.identity.sessions import SessionInfo, SessionService

AUDIT_SHOWN = 15
SIGN_IN_SCAN = 300  # audit records read to find the latest sign-ins among other actions


@dataclass(frozen=True, slots=True)
class CustomerStatus:
    person: PersonView
    sessions: tuple[SessionInfo, ...]
    consents: tuple[Consent, ...]
    audit: tuple[AuditEntry, ...]  # empty unless the viewer holds audit:read


class StatusService:
    def __init__(
        self,
        persons: PersonService,
        sessions: SessionService,
        consents: ConsentService,
        audit: AuditLog,
    ) -> None:
        self._persons = persons
        self._sessions = sessions
        self._consents = consents
        self._audit = audit

    def of(self, actor: Principal, customer_id: str) -> CustomerStatus:
        person = self._persons.view(actor, customer_id)
        audit: tuple[AuditEntry, ...] = ()
        if actor.kind is not PrincipalKind.CUSTOMER and actor.has_scope("audit:read"):
            audit = tuple(self._audit.entries(subject=customer_id, limit=AUDIT_SHOWN))
        return CustomerStatus(
            person=person,
            sessions=tuple(self._sessions.list(actor, customer_id)),
            consents=tuple(self._consents.list(actor, customer_id)),
            audit=audit,
        )

    def sign_ins(self, actor: Principal, customer_id: str, limit: int = 10) -> list[AuditEntry]:
        """Recent sign-in attempts on the customer (successes and failures), newest first.

        The customer sees their own (a failure they did not make is a warning sign); staff
        need ``customers:read``. Read from the audit log, which keeps every attempt.
        """
        if actor.kind is PrincipalKind.CUSTOMER:
            if not actor.can_act_for(customer_id):
                raise foreign_object(self._audit, actor.id, customer_id, "sign-ins")
        else:
            actor.require_scope("customers:read")
        entries = self._audit.entries(subject=customer_id, limit=SIGN_IN_SCAN)
        return [e for e in entries if e.action == "login"][:limit]

    def look_up(self, actor: Principal, query: str) -> CustomerStatus:
        """An operator's lookup by mobile number or customer id."""
        actor.require_scope("customers:read")
        customer_id = self._persons.find_by_phone(query) or query.strip()
        return self.of(actor, customer_id)
