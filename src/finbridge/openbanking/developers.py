"""Developers signing up: an organisation applies (anonymous), an operator approves, and the
applicant exchanges the claim code it was shown once for a partner API key, once.

The key is issued at the claim, not at the approval, so no key ever waits in the database for
its owner: the claim code (stored only as a SHA-256 hash) proves the applicant, and the row lock
makes two racing claims issue one key.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, select

from finbridge.core.clock import Clock
from finbridge.core.errors import BusinessRuleViolation, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal
from finbridge.openbanking.consents import aware
from finbridge.openbanking.ports import PartnerKeyPort
from finbridge.openbanking.tables import DeveloperRow
from finbridge.store.engine import unit_of_work

_ISSUING = "issuing"  # a claim is issuing the key right now


class DeveloperStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Developer:
    id: str
    organisation: str
    website: str
    status: DeveloperStatus
    created_at: datetime
    claimed: bool

    @classmethod
    def of(cls, row: DeveloperRow) -> Developer:
        return cls(row.id, row.organisation, row.website, DeveloperStatus(row.status),
                   aware(row.created_at), row.key_id is not None)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claim code finds: the application, and the partner key if issued just now."""

    developer: Developer
    api_key: str | None


class DeveloperDirectory:
    def __init__(self, engine: Engine, clock: Clock, keys: PartnerKeyPort | None) -> None:
        self._engine = engine
        self._clock = clock
        self._keys = keys

    def apply(self, *, organisation: Any, website: Any) -> tuple[Developer, str]:
        """A new application, pending; the claim code (shown once)."""
        org = organisation.strip() if isinstance(organisation, str) else ""
        if not 1 <= len(org) <= 200:
            raise ValidationError("text of 1 to 200 characters", field="organisation")
        site = website.strip() if isinstance(website, str) else ""
        if not site.startswith("https://") or len(site) > 500 or " " in site:
            raise ValidationError("an https URL of at most 500 characters", field="website")
        code = "obdev_" + secrets.token_urlsafe(32)
        row = DeveloperRow(
            id=new_id(), organisation=org, website=site, status=DeveloperStatus.PENDING.value,
            claim_hash=_hash(code), key_id=None, decided_by=None, created_at=self._clock.now(),
        )  # fmt: skip
        with unit_of_work(self._engine) as session:
            session.add(row)
        return Developer.of(row), code

    def list(self, actor: Principal) -> list[Developer]:
        actor.require_scope("openbanking:admin")
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(
                select(DeveloperRow).order_by(DeveloperRow.status, DeveloperRow.created_at)
            ).all()
        return [Developer.of(r) for r in rows]

    def decide(self, actor: Principal, developer_id: str, status: DeveloperStatus) -> Developer:
        """Approve or reject a pending application (``openbanking:admin``)."""
        actor.require_scope("openbanking:admin")
        with unit_of_work(self._engine) as session:
            row = session.get(DeveloperRow, developer_id, with_for_update=True)
            if row is None:
                raise NotFound("no such developer", field="developer_id")
            if row.status != DeveloperStatus.PENDING.value:
                raise BusinessRuleViolation(f"already {row.status}", field="developer_id")
            row.status, row.decided_by = status.value, actor.id
        return Developer.of(row)

    def claim(self, code: Any) -> Claim:
        """Where the application stands; once approved, the partner key, issued once."""
        if not isinstance(code, str) or not code.startswith("obdev_") or len(code) > 100:
            raise NotFound("no such claim code", field="code")
        with unit_of_work(self._engine) as session:
            row = session.scalars(
                select(DeveloperRow).where(DeveloperRow.claim_hash == _hash(code)).with_for_update()
            ).first()
            if row is None:
                raise NotFound("no such claim code", field="code")
            if row.status != DeveloperStatus.APPROVED.value or row.key_id is not None:
                return Claim(Developer.of(row), None)
            if self._keys is None:
                raise BusinessRuleViolation("no key issuer configured", field="code")
            # Taken before the key is issued, in its own transaction: identity writes the key
            # in another (SQLite's one writer would wait on us), and a racing claim sees it.
            row.key_id = _ISSUING
        try:
            key_id, plaintext = self._keys.issue_partner_key(f"developer {row.organisation}")
        except BaseException:
            self._set_key(row.id, None)
            raise
        self._set_key(row.id, key_id)
        row.key_id = key_id
        return Claim(Developer.of(row), plaintext)

    def _set_key(self, developer_id: str, key_id: str | None) -> None:
        with unit_of_work(self._engine) as session:
            stored = session.get(DeveloperRow, developer_id, with_for_update=True)
            assert stored is not None
            stored.key_id = key_id


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()
