"""One customer's identity status for people who look after it: the customer, or an operator.

Composes the person's masked record, their sessions and consents, and (for holders of
``audit:read`` only) the latest audit records about them. Each part is authorised by the
service that owns it; looking a customer up by mobile number needs ``customers:read`` first,
so the lookup itself reveals nothing to anyone else.
"""

from __future__ import annotations

from dataclasses import dataclass

from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity.audit import AuditEntry, AuditLog
from finbridge.identity.consent import Consent, ConsentService
from finbridge.identity.persons import PersonService, PersonView
from finbridge.identity.sessions import SessionInfo, SessionService

AUDIT_SHOWN = 15


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

    def look_up(self, actor: Principal, query: str) -> CustomerStatus:
        """An operator's lookup by mobile number or customer id."""
        actor.require_scope("customers:read")
        customer_id = self._persons.find_by_phone(query) or query.strip()
        return self.of(actor, customer_id)
