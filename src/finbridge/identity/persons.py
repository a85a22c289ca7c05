"""Registration of personal customers: validate, seal PII in the vault, detect duplicates.

The person record is keyed by the banking customer id. Only masked values ever leave this module
except through :meth:`PersonService.reveal`, which is scope-checked and audited.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from finbridge.core.clock import Clock, business_date
from finbridge.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity import kyc
from finbridge.identity.audit import AuditLog, foreign_object
from finbridge.identity.credentials import PasswordService
from finbridge.identity.events import SOURCE
from finbridge.identity.ports import CustomerFactory, MintedCustomerIds
from finbridge.identity.tables import (
    BankCardRow,
    FaceTemplateRow,
    PasskeyRow,
    PasswordRow,
    PersonRow,
    SigningKeyRow,
    TotpRow,
)
from finbridge.identity.vault import (
    PiiVault,
    mask_card,
    mask_id_number,
    mask_name,
    mask_phone,
)
from finbridge.lake import Event, emit
from finbridge.store.engine import unit_of_work

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RegistrationRequest:
    name: str
    id_type: str
    id_number: str
    phone: str
    birth_date: date | None = None
    country: str | None = None
    document_expires: date | None = None
    card_number: str | None = None


@dataclass(frozen=True, slots=True)
class CheckedRegistration:
    """A registration after every validator ran: normalised plaintext, never stored as is."""

    name: str
    document: kyc.IdentityDocument
    phone: str
    card_number: str | None


@dataclass(frozen=True, slots=True)
class PersonView:
    """What responses show: masked values only."""

    customer_id: str
    name: str
    id_type: str
    id_country: str
    id_number: str
    phone: str
    birth_year: int
    kyc_status: str
    cards: tuple[str, ...]
    factors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KycCheck:
    """A registration's data validated but not stored: normalised and masked."""

    id_type: str
    id_number: str
    id_country: str
    phone: str
    birth_year: int
    age: int

    @property
    def adult(self) -> bool:
        return self.age >= 18


def _ctx(column: str, customer_id: str) -> str:
    return f"identity_persons.{column}:{customer_id}"


# Every vault ciphertext in identity's tables, with how its AAD context is built: the list key
# rotation walks. A new sealed column must be added here.
SEALED_COLUMNS: list[tuple[type[Any], str, Callable[[Any], str]]] = [
    (PersonRow, "id_number_enc", lambda r: _ctx("id_number", r.customer_id)),
    (PersonRow, "name_enc", lambda r: _ctx("name", r.customer_id)),
    (PersonRow, "phone_enc", lambda r: _ctx("phone", r.customer_id)),
    (PersonRow, "birth_date_enc", lambda r: _ctx("birth_date", r.customer_id)),
    (BankCardRow, "card_enc", lambda r: f"identity_bank_cards.card:{r.id}"),
    (
        FaceTemplateRow,
        "template_enc",
        lambda r: f"identity_face_templates.template:{r.customer_id}",
    ),
    (SigningKeyRow, "private_key_enc", lambda r: f"identity_signing_keys.private:{r.kid}"),
    (TotpRow, "secret_enc", lambda r: f"identity_totp.secret:{r.customer_id}"),
]


def check_registration(req: RegistrationRequest, today: date) -> CheckedRegistration:
    """Run every KYC validator; the first failure names its field."""
    name = kyc.validate_name(req.name)
    document = kyc.validate_document(
        req.id_type,
        req.id_number,
        today=today,
        birth_date=req.birth_date,
        country=req.country,
        expires=req.document_expires,
    )
    phone = kyc.validate_mobile(req.phone)
    card = kyc.validate_bank_card(req.card_number) if req.card_number else None
    return CheckedRegistration(name, document, phone, card)


class PersonService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        vault: PiiVault,
        audit: AuditLog,
        *,
        passwords: PasswordService,
        customers: CustomerFactory | None = None,
        business_timezone: str = "Asia/Shanghai",
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._vault = vault
        self._audit = audit
        self._passwords = passwords
        self._customers: CustomerFactory = customers or MintedCustomerIds()
        self._tz = business_timezone

    def today(self) -> date:
        return business_date(self._clock.now(), self._tz)

    def check_kyc(
        self, actor: Principal, req: RegistrationRequest, *, credit_product: bool = False
    ) -> KycCheck:
        """Validate KYC data without storing it (and, for a credit product, the age rule)."""
        actor.require_scope("customers:read")
        today = self.today()
        checked = check_registration(req, today)
        if credit_product:
            kyc.require_adult(checked.document.birth_date, today=today)
        return KycCheck(
            id_type=checked.document.type.value,
            id_number=mask_id_number(checked.document.number),
            id_country=checked.document.country,
            phone=mask_phone(checked.phone),
            birth_year=checked.document.birth_date.year,
            age=kyc.age_on(checked.document.birth_date, today),
        )

    def register(
        self,
        req: RegistrationRequest,
        actor: Principal | None = None,
        *,
        password: str | None = None,
    ) -> PersonView:
        """Register a person, with their login password when given, as one atomic call.

        Self-registration (``actor`` None) or onboarding by an operator with customers:write.
        Everything that can be refused is checked (and the password hashed) before anything is
        written; then the banking customer is opened through the :class:`CustomerFactory` port
        and the person, card, password, audit record and event are written in ONE transaction.
        If that transaction fails, the customer is discarded again: no person without a
        password, no customer without a person.
        """
        if actor is not None and actor.kind is not PrincipalKind.SYSTEM:
            actor.require_scope("customers:write")
        actor_name = actor.id if actor else "anonymous"
        try:
            checked = check_registration(req, self.today())
            digest = self._passwords.hash_new(password) if password is not None else None
        except ValidationError as exc:
            self._refused(actor_name, exc.field or "", exc.detail)
            raise
        doc = checked.document
        id_bidx = self._vault.blind_index(doc.number, kind=f"id:{doc.type.value}")
        phone_bidx = self._vault.blind_index(checked.phone, kind="phone")
        try:
            with unit_of_work(self._engine, write=False) as session:
                self._refuse_duplicates(session, doc.type.value, id_bidx, phone_bidx)
        except Conflict as exc:
            self._refused(actor_name, exc.field or "", "duplicate")
            raise
        # Banking's customer is created in banking's own transaction, under the masked name
        # only: the ledger side never holds plaintext PII.
        customer_id = self._customers.create(mask_name(checked.name))
        try:
            self._write_person(checked, customer_id, id_bidx, phone_bidx, digest, actor_name)
        except BaseException as exc:
            self._discard(customer_id)
            if isinstance(exc, IntegrityError):
                # Two registrations of the same person raced past the duplicate check.
                self._refused(actor_name, "id_number", "duplicate (concurrent)")
                raise Conflict("this identity is already registered", field="id_number") from None
            if isinstance(exc, Conflict):
                self._refused(actor_name, exc.field or "", "duplicate")
            raise
        return self.view(Principal.system(), customer_id)

    def _write_person(
        self,
        checked: CheckedRegistration,
        customer_id: str,
        id_bidx: str,
        phone_bidx: str,
        digest: str | None,
        actor_name: str,
    ) -> None:
        doc = checked.document
        now = self._clock.now()
        with unit_of_work(self._engine) as session:
            self._refuse_duplicates(session, doc.type.value, id_bidx, phone_bidx)
            v = self._vault
            row = PersonRow(
                customer_id=customer_id,
                id_type=doc.type.value,
                id_country=doc.country,
                id_number_enc=v.encrypt(doc.number, context=_ctx("id_number", customer_id)),
                id_number_bidx=id_bidx,
                id_number_masked=mask_id_number(doc.number),
                name_enc=v.encrypt(checked.name, context=_ctx("name", customer_id)),
                name_masked=mask_name(checked.name),
                phone_enc=v.encrypt(checked.phone, context=_ctx("phone", customer_id)),
                phone_bidx=phone_bidx,
                phone_masked=mask_phone(checked.phone),
                birth_date_enc=v.encrypt(
                    doc.birth_date.isoformat(), context=_ctx("birth_date", customer_id)
                ),
                birth_year=doc.birth_date.year,
                kyc_status="pending",
                kyc_checked_at=None,
                created_at=now,
            )
            session.add(row)
            session.flush()
            if checked.card_number:
                self._add_card(session, customer_id, checked.card_number)
            self._audit.append(
                session,
                actor=actor_name,
                action="person.register",
                subject=customer_id,
                outcome="success",
                detail={"id_type": doc.type.value, "id_number": row.id_number_masked},
            )
            if digest is not None:
                self._passwords.store(session, actor_name, customer_id, digest)
            payload = {
                "id_type": doc.type.value,
                "id_country": doc.country,
                "birth_year": doc.birth_date.year,
                "kyc_status": "pending",
            }
            event = Event(
                "identity.customer_registered", now, payload, SOURCE, subject_id=customer_id
            )
            emit(session, event)

    def _discard(self, customer_id: str) -> None:
        """Compensate a failed registration; a failing discard must not hide the first error."""
        try:
            self._customers.discard(customer_id)
        except Exception:
            _log.exception("could not discard customer %s after a failed registration", customer_id)

    def _refused(self, actor_name: str, field: str, reason: str) -> None:
        self._audit.record(
            actor=actor_name,
            action="person.register",
            subject=None,
            outcome="refused",
            detail={"field": field, "reason": reason},
        )

    def _refuse_duplicates(
        self, session: Session, id_type: str, id_bidx: str, phone_bidx: str
    ) -> None:
        same_id = session.scalar(
            select(PersonRow.customer_id).where(
                PersonRow.id_type == id_type, PersonRow.id_number_bidx == id_bidx
            )
        )
        if same_id is not None:
            raise Conflict("this identity document is already registered", field="id_number")
        same_phone = session.scalar(
            select(PersonRow.customer_id).where(PersonRow.phone_bidx == phone_bidx)
        )
        if same_phone is not None:
            raise Conflict("this mobile number is already registered", field="phone")

    def _add_card(self, session: Session, customer_id: str, card: str) -> str:
        card_id = new_id()
        session.add(
            BankCardRow(
                id=card_id,
                customer_id=customer_id,
                card_enc=self._vault.encrypt(card, context=f"identity_bank_cards.card:{card_id}"),
                card_bidx=self._vault.blind_index(card, kind="card"),
                card_masked=mask_card(card),
                created_at=self._clock.now(),
            )
        )
        return card_id

    def add_card(self, actor: Principal, customer_id: str, card_number: str) -> str:
        self._require_access(actor, customer_id, "customers:write")
        card = kyc.validate_bank_card(card_number)
        try:
            with unit_of_work(self._engine) as session:
                self._get(session, customer_id)
                card_id = self._add_card(session, customer_id, card)
                self._audit.append(
                    session,
                    actor=actor.id,
                    action="person.add_card",
                    subject=customer_id,
                    outcome="success",
                    detail={"card": mask_card(card)},
                )
        except IntegrityError:
            raise Conflict("this card is already on file", field="card_number") from None
        return card_id

    def find_by_phone(self, phone: str) -> str | None:
        """Customer id for a mobile number, via the blind index (no decryption)."""
        try:
            normalised = kyc.validate_mobile(phone)
        except ValidationError:
            return None
        bidx = self._vault.blind_index(normalised, kind="phone")
        with unit_of_work(self._engine, write=False) as session:
            return session.scalar(select(PersonRow.customer_id).where(PersonRow.phone_bidx == bidx))

    def login_key(self, phone: str) -> str:
        """Blind index of a typed login identifier (normalised when it is a valid mobile)."""
        try:
            value = kyc.validate_mobile(phone)
        except ValidationError:
            value = str(phone)[:64].strip()
        return self._vault.blind_index(value, kind="login")

    def find_by_document(self, id_type: str, number: str) -> str | None:
        """Customer id for an identity document, via the blind index (duplicate checks)."""
        try:
            if id_type == kyc.DocumentType.PRC_RESIDENT_ID:
                normalised = kyc.parse_prc_id(number, today=self.today()).number
            elif id_type == kyc.DocumentType.HK_ID:
                normalised = kyc.validate_hkid(number)
            else:
                normalised = number.replace(" ", "").upper()
        except ValidationError:
            return None
        bidx = self._vault.blind_index(normalised, kind=f"id:{id_type}")
        with unit_of_work(self._engine, write=False) as session:
            return session.scalar(
                select(PersonRow.customer_id).where(
                    PersonRow.id_type == id_type, PersonRow.id_number_bidx == bidx
                )
            )

    def _require_access(self, actor: Principal, customer_id: str, scope: str) -> None:
        if actor.kind is PrincipalKind.CUSTOMER:
            if not actor.can_act_for(customer_id):
                raise foreign_object(self._audit, actor.id, customer_id, "person")
            return
        actor.require_scope(scope)

    def _get(self, session: Session, customer_id: str) -> PersonRow:
        row = session.get(PersonRow, customer_id)
        if row is None:
            raise NotFound(f"no customer {customer_id}", field="customer_id")
        return row

    def view(self, actor: Principal, customer_id: str) -> PersonView:
        self._require_access(actor, customer_id, "customers:read")
        with unit_of_work(self._engine, write=False) as session:
            row = self._get(session, customer_id)
            cards = session.scalars(
                select(BankCardRow.card_masked)
                .where(BankCardRow.customer_id == customer_id)
                .order_by(BankCardRow.created_at)
            ).all()
            factors = []
            if session.get(PasswordRow, customer_id) is not None:
                factors.append("password")
            totp = session.get(TotpRow, customer_id)
            if totp is not None and totp.confirmed_at is not None:
                factors.append("totp")
            if session.scalar(
                select(PasskeyRow.credential_id)
                .where(PasskeyRow.customer_id == customer_id)
                .limit(1)
            ):
                factors.append("passkey")
            if session.get(FaceTemplateRow, customer_id) is not None:
                factors.append("face")
        return PersonView(
            customer_id=row.customer_id,
            name=row.name_masked,
            id_type=row.id_type,
            id_country=row.id_country,
            id_number=row.id_number_masked,
            phone=row.phone_masked,
            birth_year=row.birth_year,
            kyc_status=row.kyc_status,
            cards=tuple(cards),
            factors=tuple(factors),
        )

    def reveal(self, actor: Principal, customer_id: str, column: str, reason: str) -> str:
        """Decrypt one PII field: the customer for themselves, or staff with identity:reveal.

        Every call is audited, including refusals, with the stated reason.
        """
        if column not in ("id_number", "name", "phone", "birth_date"):
            raise ValidationError("unknown PII field", field="field")
        if not reason.strip():
            raise ValidationError("a reason is required to see personal data", field="reason")
        try:
            if actor.kind is PrincipalKind.CUSTOMER:
                self._require_access(actor, customer_id, "")
            else:
                actor.require_scope("identity:reveal")
            with unit_of_work(self._engine) as session:
                row = self._get(session, customer_id)
                value = self._vault.decrypt(
                    getattr(row, f"{column}_enc"), context=_ctx(column, customer_id)
                )
                self._audit.append(
                    session,
                    actor=actor.id,
                    action="pii.reveal",
                    subject=customer_id,
                    outcome="success",
                    detail={"field": column, "reason": reason[:200]},
                )
        except (PermissionDenied, NotFound):
            self._audit.record(
                actor=actor.id,
                action="pii.reveal",
                subject=customer_id,
                outcome="refused",
                detail={"field": column, "reason": reason[:200]},
            )
            raise
        return value

    def birth_date(self, customer_id: str, *, purpose: str) -> date:
        """For engines' age rules (credit: 18+); audited as a PII access."""
        with unit_of_work(self._engine) as session:
            row = self._get(session, customer_id)
            value = self._vault.decrypt(row.birth_date_enc, context=_ctx("birth_date", customer_id))
            self._audit.append(
                session,
                actor="system",
                action="pii.read",
                subject=customer_id,
                outcome="success",
                detail={"field": "birth_date", "purpose": purpose},
            )
        return date.fromisoformat(value)

    def require_adult(self, customer_id: str, minimum: int = 18) -> None:
        """Credit products call this before offering credit."""
        kyc.require_adult(
            self.birth_date(customer_id, purpose="age check"), today=self.today(), minimum=minimum
        )

    def verify_kyc(self, actor: Principal, customer_id: str) -> PersonView:
        """Re-check the stored document (operator) and mark the customer verified."""
        actor.require_scope("customers:write")
        with unit_of_work(self._engine) as session:
            row = self._get(session, customer_id)
            number = self._vault.decrypt(row.id_number_enc, context=_ctx("id_number", customer_id))
            birth = date.fromisoformat(
                self._vault.decrypt(row.birth_date_enc, context=_ctx("birth_date", customer_id))
            )
            name = self._vault.decrypt(row.name_enc, context=_ctx("name", customer_id))
            outcome, status = "success", "verified"
            try:
                kyc.validate_name(name)
                if row.id_type == kyc.DocumentType.PRC_RESIDENT_ID:
                    rid = kyc.parse_prc_id(number, today=self.today())
                    if rid.birth_date != birth:
                        raise ValidationError("birth date mismatch", field="birth_date")
                elif row.id_type == kyc.DocumentType.HK_ID:
                    kyc.validate_hkid(number)
            except ValidationError:
                outcome, status = "failure", "rejected"
            row.kyc_status = status
            row.kyc_checked_at = self._clock.now()
            self._audit.append(
                session,
                actor=actor.id,
                action="kyc.verify",
                subject=customer_id,
                outcome=outcome,
                detail={"status": status},
            )
        return self.view(actor, customer_id)

    def reencrypt_all(self, batch: int = 500) -> int:
        """Re-seal every vault ciphertext not under the newest key; returns how many changed."""
        changed = 0
        v = self._vault
        with unit_of_work(self._engine) as session:
            for model, column, context in SEALED_COLUMNS:
                for row in session.scalars(select(model)).yield_per(batch):
                    value = getattr(row, column)
                    if v.needs_reencryption(value):
                        setattr(row, column, v.reencrypt(value, context=context(row)))
                        changed += 1
            self._audit.append(
                session,
                actor="system",
                action="vault.reencrypt",
                subject=None,
                outcome="success",
                detail={"changed": changed, "key_id": v.current_key_id},
            )
        return changed
