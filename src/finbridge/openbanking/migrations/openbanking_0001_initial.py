"""openbanking: apps, pushed requests, consents, codes, tokens, seen JWT ids, payments, audit

Revision ID: openbanking_0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "openbanking_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("openbanking",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "openbanking_apps",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("developer", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("jwks", sa.JSON(), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openbanking_apps")),
    )
    op.create_table(
        "openbanking_audit",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=True),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("consent_id", sa.String(length=36), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openbanking_audit")),
    )
    op.create_index("ix_openbanking_audit_at", "openbanking_audit", ["at"], unique=False)
    op.create_table(
        "openbanking_codes",
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("dpop_jkt", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code_hash", name=op.f("pk_openbanking_codes")),
    )
    op.create_table(
        "openbanking_consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("permissions", sa.JSON(), nullable=False),
        sa.Column("account_ids", sa.JSON(), nullable=False),
        sa.Column("from_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("to_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("creditor_account_id", sa.String(length=36), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("max_per_payment_minor", sa.BigInteger(), nullable=True),
        sa.Column("max_total_minor", sa.BigInteger(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openbanking_consents")),
    )
    op.create_index(
        "ix_openbanking_consents_client",
        "openbanking_consents",
        ["client_id", "created_at"],
        unique=False,
    )
    op.create_index(
        "ix_openbanking_consents_customer",
        "openbanking_consents",
        ["customer_id", "status"],
        unique=False,
    )
    op.create_table(
        "openbanking_payments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("debtor_account_id", sa.String(length=36), nullable=False),
        sa.Column("creditor_account_id", sa.String(length=36), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("entry_id", sa.String(length=36), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openbanking_payments")),
        sa.UniqueConstraint(
            "client_id",
            "idempotency_key",
            name=op.f("uq_openbanking_payments_client_id_idempotency_key"),
        ),
    )
    op.create_index(
        "ix_openbanking_payments_consent", "openbanking_payments", ["consent_id"], unique=False
    )
    op.create_table(
        "openbanking_pushed_requests",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("redirect_uri", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=500), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=False),
        sa.Column("dpop_jkt", sa.String(length=64), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openbanking_pushed_requests")),
    )
    op.create_table(
        "openbanking_seen_jtis",
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("issuer", sa.String(length=100), nullable=False),
        sa.Column("jti", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("purpose", "issuer", "jti", name=op.f("pk_openbanking_seen_jtis")),
    )
    op.create_index(
        "ix_openbanking_seen_jtis_expires", "openbanking_seen_jtis", ["expires_at"], unique=False
    )
    op.create_table(
        "openbanking_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("consent_id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("jkt", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_openbanking_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_openbanking_tokens_token_hash")),
    )
    op.create_index("ix_openbanking_tokens_family", "openbanking_tokens", ["family"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_openbanking_tokens_family", table_name="openbanking_tokens")
    op.drop_table("openbanking_tokens")
    op.drop_index("ix_openbanking_seen_jtis_expires", table_name="openbanking_seen_jtis")
    op.drop_table("openbanking_seen_jtis")
    op.drop_table("openbanking_pushed_requests")
    op.drop_index("ix_openbanking_payments_consent", table_name="openbanking_payments")
    op.drop_table("openbanking_payments")
    op.drop_index("ix_openbanking_consents_customer", table_name="openbanking_consents")
    op.drop_index("ix_openbanking_consents_client", table_name="openbanking_consents")
    op.drop_table("openbanking_consents")
    op.drop_table("openbanking_codes")
    op.drop_index("ix_openbanking_audit_at", table_name="openbanking_audit")
    op.drop_table("openbanking_audit")
    op.drop_table("openbanking_apps")
