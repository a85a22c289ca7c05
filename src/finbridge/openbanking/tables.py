"""Open banking tables: apps, pushed requests, consents, codes, tokens, seen JWT ids, payments,
and the audit trail. Secrets (codes, tokens) are stored only as SHA-256 hashes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from finbridge.store.metadata import Base


class AppRow(Base):
    """A third party's registered client (``id`` is its ``client_id``)."""

    __tablename__ = "openbanking_apps"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    developer: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(Text)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    jwks: Mapped[dict[str, Any]] = mapped_column(JSON)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | suspended
    decided_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # Who registered the app (a developer's API key or an operator): it manages its webhooks.
    owner_id: Mapped[str | None] = mapped_column(String(64))
    webhook_url: Mapped[str | None] = mapped_column(String(500))
    # Sealed (AES-GCM) signing secrets, newest first; more than one while a rotation overlaps.
    webhook_secrets: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # OpenID Connect third-party-initiated login (the app store's "Connect"); none: no button.
    initiate_login_uri: Mapped[str | None] = mapped_column(String(500))
    # A sandbox app: approved at once, its tokens carry a sandbox marker and are served only
    # from the synthetic sandbox below; never in the app store.
    sandbox: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Keys published by the app (fetched and cached by remote_jwks.py); ``jwks`` is then empty.
    jwks_uri: Mapped[str | None] = mapped_column(String(500))
    # The current logo's SHA-256 (its bytes in openbanking_app_logos); none: no logo.
    logo_sha256: Mapped[str | None] = mapped_column(String(64))


class AppLogoRow(Base):
    """An app's logo as we re-encoded it (never the uploaded bytes), served from our origin."""

    __tablename__ = "openbanking_app_logos"

    client_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(16))  # image/png
    data: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PushedRequestRow(Base):
    """An authorisation request pushed by PAR (RFC 9126), used at most once."""

    __tablename__ = "openbanking_pushed_requests"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36))
    consent_id: Mapped[str] = mapped_column(String(36))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    state: Mapped[str | None] = mapped_column(String(500))
    code_challenge: Mapped[str] = mapped_column(String(128))
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class ConsentRow(Base):
    """A customer's consent to one app: account access or a payment (single or a mandate)."""

    __tablename__ = "openbanking_consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36))
    customer_id: Mapped[str | None] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(24))  # account_access | payment | payment_mandate
    status: Mapped[str] = mapped_column(String(24))
    permissions: Mapped[list[str]] = mapped_column(JSON)
    account_ids: Mapped[list[str]] = mapped_column(JSON)
    # Account access: the transaction window the app may read.
    from_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    to_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Payments: currency, creditor, the single amount or the mandate's limits (minor units).
    currency: Mapped[str | None] = mapped_column(String(3))
    creditor_account_id: Mapped[str | None] = mapped_column(String(36))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    max_per_payment_minor: Mapped[int | None] = mapped_column(BigInteger)
    max_total_minor: Mapped[int | None] = mapped_column(BigInteger)
    # Cross-border consents: the beneficiary (``creditor_account_id`` holds its IBAN/account).
    beneficiary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status_changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_openbanking_consents_customer", "customer_id", "status"),
        Index("ix_openbanking_consents_client", "client_id", "created_at"),
    )


class CodeRow(Base):
    """An authorisation code (hashed): single use, short-lived, bound to PKCE and a redirect."""

    __tablename__ = "openbanking_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36))
    consent_id: Mapped[str] = mapped_column(String(36))
    customer_id: Mapped[str] = mapped_column(String(36))
    redirect_uri: Mapped[str] = mapped_column(String(500))
    code_challenge: Mapped[str] = mapped_column(String(128))
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TokenRow(Base):
    """An issued token. ``family`` is the code it descends from: a reused code or refresh token
    revokes the whole family."""

    __tablename__ = "openbanking_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the access token's jti
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(8))  # access | refresh
    family: Mapped[str] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(36))
    consent_id: Mapped[str] = mapped_column(String(36))
    customer_id: Mapped[str] = mapped_column(String(36))
    jkt: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_openbanking_tokens_family", "family"),)


class SeenJtiRow(Base):
    """JWT ids already accepted (client assertions, DPoP proofs), kept until they expire."""

    __tablename__ = "openbanking_seen_jtis"

    # The key itself is the replay check: a second insert of the same id fails.
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)  # assertion | dpop
    issuer: Mapped[str] = mapped_column(String(100), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_openbanking_seen_jtis_expires", "expires_at"),)


class PaymentRow(Base):
    """A payment an app initiated under a payment consent (idempotent per app and key)."""

    __tablename__ = "openbanking_payments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36))
    consent_id: Mapped[str] = mapped_column(String(36))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    fingerprint: Mapped[str] = mapped_column(String(64))
    debtor_account_id: Mapped[str] = mapped_column(String(36))
    creditor_account_id: Mapped[str] = mapped_column(String(36))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # pending | completed | rejected
    entry_id: Mapped[str | None] = mapped_column(String(36))
    reason: Mapped[str | None] = mapped_column(Text)
    # Cross-border: payments' transfer (held now, sent in the next pacs.008, settled later).
    transfer_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("client_id", "idempotency_key"),
        Index("ix_openbanking_payments_consent", "consent_id"),
    )


class AuditRow(Base):
    """Every decision of the server, granted or refused (append-only)."""

    __tablename__ = "openbanking_audit"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(40))
    outcome: Mapped[str] = mapped_column(String(40))  # ok | the OAuth error code
    client_id: Mapped[str | None] = mapped_column(String(36))
    customer_id: Mapped[str | None] = mapped_column(String(36))
    consent_id: Mapped[str | None] = mapped_column(String(36))
    detail: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_openbanking_audit_at", "at"),)


class WebhookDeliveryRow(Base):
    """One event for one app, signed per Standard Webhooks and retried with backoff."""

    __tablename__ = "openbanking_webhook_deliveries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the webhook-id (msg_...)
    client_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(BigInteger)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_status: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The server sending it now and until when: another server skips it until the lease ends
    # (a server that died mid-send leaves it to be taken again after the lease).
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_openbanking_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_openbanking_webhook_deliveries_client", "client_id", "created_at"),
    )


class UsageRow(Base):
    """Calls to ``/open-banking/v1`` per app, business day, resource and outcome (``served``,
    ``rate_limited`` or ``refused:<error>``); counters are added to, never rewritten."""

    __tablename__ = "openbanking_usage"

    client_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    resource: Mapped[str] = mapped_column(String(40), primary_key=True)
    outcome: Mapped[str] = mapped_column(String(80), primary_key=True)
    calls: Mapped[int] = mapped_column(BigInteger)


class SandboxRow(Base):
    """One developer's sandbox (``owner_id``: the principal that registers its sandbox apps):
    its synthetic customers' and accounts' ids all begin with ``prefix``. ``seeded_at``: when
    the data was seeded or last reset (its postings are dated back from then)."""

    __tablename__ = "openbanking_sandboxes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    # None only for the shared sandbox of before 0011 when no sandbox app existed to own it.
    owner_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(24), unique=True)  # sbx_<8 hex>_
    seeded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SandboxAccountRow(Base):
    """A synthetic customer's account in one developer's sandbox (seeded, deterministic; no
    real data)."""

    __tablename__ = "openbanking_sandbox_accounts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # sbx_...
    sandbox_id: Mapped[str] = mapped_column(String(36))
    customer_id: Mapped[str] = mapped_column(String(36))
    kind: Mapped[str] = mapped_column(String(16))
    currency: Mapped[str] = mapped_column(String(3))
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_openbanking_sandbox_accounts_customer", "customer_id"),
        Index("ix_openbanking_sandbox_accounts_sandbox", "sandbox_id"),
    )


class SandboxPostingRow(Base):
    """A synthetic posting on a sandbox account."""

    __tablename__ = "openbanking_sandbox_postings"

    account_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    booked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    balance_after_minor: Mapped[int] = mapped_column(BigInteger)
    description: Mapped[str] = mapped_column(String(140))

    __table_args__ = (Index("ix_openbanking_sandbox_postings_account", "account_id", "booked_at"),)


class DeveloperRow(Base):
    """A third party asking to build on the platform: an organisation, not a person (no PII).
    ``claim_hash`` is the SHA-256 of the claim code shown once at sign-up; once an operator
    approves, the code is exchanged once for a partner API key (``key_id``)."""

    __tablename__ = "openbanking_developers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organisation: Mapped[str] = mapped_column(String(200))
    website: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(16))  # pending | approved | rejected
    claim_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_id: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
