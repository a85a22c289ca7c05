"""Identity tables: operator API keys, persons (PII encrypted), credentials, sessions, audit.

Columns ending ``_enc`` hold vault ciphertexts (``v1:<key id>:<nonce+ciphertext>``), ``_bidx``
columns the keyed blind index used for exact lookup and duplicate detection, ``_masked`` columns
the display form. Plaintext PII never reaches the database.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from finbridge.store.metadata import Base


class ApiKeyRow(Base):
    """An operator or partner API key. Only a keyed hash of the secret is stored."""

    __tablename__ = "identity_api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(120))
    roles: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PersonRow(Base):
    """A personal customer's identity record, keyed by the banking customer id."""

    __tablename__ = "identity_persons"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    id_type: Mapped[str] = mapped_column(String(32))
    id_country: Mapped[str] = mapped_column(String(3))
    id_number_enc: Mapped[str] = mapped_column(Text)
    id_number_bidx: Mapped[str] = mapped_column(String(64))
    id_number_masked: Mapped[str] = mapped_column(String(40))
    name_enc: Mapped[str] = mapped_column(Text)
    name_masked: Mapped[str] = mapped_column(String(120))
    phone_enc: Mapped[str] = mapped_column(Text)
    phone_bidx: Mapped[str] = mapped_column(String(64), unique=True)
    phone_masked: Mapped[str] = mapped_column(String(20))
    birth_date_enc: Mapped[str] = mapped_column(Text)
    birth_year: Mapped[int] = mapped_column(Integer)  # coarse, for age rules without decrypting
    kyc_status: Mapped[str] = mapped_column(String(16))  # pending / verified / rejected
    kyc_checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("id_type", "id_number_bidx"),)


class BankCardRow(Base):
    __tablename__ = "identity_bank_cards"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identity_persons.customer_id"), index=True
    )
    card_enc: Mapped[str] = mapped_column(Text)
    card_bidx: Mapped[str] = mapped_column(String(64))
    card_masked: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("customer_id", "card_bidx"),)


class ConsentRow(Base):
    """A PIPL-style consent: one purpose, a scope of data, granted until withdrawn."""

    __tablename__ = "identity_consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    purpose: Mapped[str] = mapped_column(String(64))
    scope: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]
    granted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PasswordRow(Base):
    __tablename__ = "identity_passwords"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    hash: Mapped[str] = mapped_column(String(200))
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ThrottleRow(Base):
    """Failed-login counter for identifiers that belong to nobody (same back-off as accounts)."""

    __tablename__ = "identity_login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # blind index of the input
    failed_count: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TotpRow(Base):
    __tablename__ = "identity_totp"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    secret_enc: Mapped[str] = mapped_column(Text)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The last accepted 30-second step: a code for this step or any earlier one is a replay.
    last_step: Mapped[int] = mapped_column(Integer, default=-1)
    failed_count: Mapped[int] = mapped_column(Integer, default=0)


class RecoveryCodeRow(Base):
    __tablename__ = "identity_recovery_codes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class LoginChallengeRow(Base):
    """Password accepted, second factor pending."""

    __tablename__ = "identity_login_challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    device: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class SessionRow(Base):
    """A login session = one refresh-token family on one device."""

    __tablename__ = "identity_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    device: Mapped[str] = mapped_column(String(200))
    amr: Mapped[list] = mapped_column(JSON)  # type: ignore[type-arg]
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_reason: Mapped[str | None] = mapped_column(String(64))
    stepped_up_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    step_up_method: Mapped[str | None] = mapped_column(String(16))


class RefreshTokenRow(Base):
    __tablename__ = "identity_refresh_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    session_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("identity_sessions.id"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SigningKeyRow(Base):
    """Ed25519 token-signing keys; the private half is a vault ciphertext."""

    __tablename__ = "identity_signing_keys"

    kid: Mapped[str] = mapped_column(String(36), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    private_key_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Retired keys stop signing but keep verifying until every token they signed has expired.
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class PasskeyRow(Base):
    __tablename__ = "identity_passkeys"

    credential_id: Mapped[str] = mapped_column(String(400), primary_key=True)  # base64url
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ChallengeRow(Base):
    """A one-time server challenge (WebAuthn ceremony or face liveness), consumed on use."""

    __tablename__ = "identity_challenges"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[str | None] = mapped_column(String(36))
    challenge: Mapped[bytes] = mapped_column(LargeBinary)
    data: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class FaceTemplateRow(Base):
    __tablename__ = "identity_face_templates"

    customer_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    template_enc: Mapped[str] = mapped_column(Text)  # 128 float32, encrypted
    model: Mapped[str] = mapped_column(String(64))
    enrolled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_match_distance: Mapped[float | None] = mapped_column(Float)


class InboxMessageRow(Base):
    """A message delivered to a customer's inbox (see :mod:`finbridge.identity.inbox`)."""

    __tablename__ = "identity_inbox_messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(400))
    ref: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_identity_inbox_messages_customer_created", "customer_id", "created_at"),
        UniqueConstraint("customer_id", "kind", "ref"),
    )


class PrivacyRequestRow(Base):
    """A customer's request to correct or delete personal data (see identity.privacy)."""

    __tablename__ = "identity_privacy_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(Text)
    handled_by: Mapped[str | None] = mapped_column(String(80))


class AuditRow(Base):
    """Append-only, hash-chained audit record (see :mod:`finbridge.identity.audit`)."""

    __tablename__ = "identity_audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(80))
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict] = mapped_column(JSON)  # type: ignore[type-arg]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_identity_audit_log_subject", "subject", "seq"),)


__all__ = [
    "ApiKeyRow",
    "AuditRow",
    "BankCardRow",
    "ChallengeRow",
    "ConsentRow",
    "FaceTemplateRow",
    "InboxMessageRow",
    "LoginChallengeRow",
    "PasskeyRow",
    "PasswordRow",
    "PersonRow",
    "PrivacyRequestRow",
    "RecoveryCodeRow",
    "RefreshTokenRow",
    "SessionRow",
    "SigningKeyRow",
    "ThrottleRow",
    "TotpRow",
]
