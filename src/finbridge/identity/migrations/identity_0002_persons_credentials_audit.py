"""identity: persons (PII vault), consents, credentials, sessions, passkeys, face, audit log

Revision ID: identity_0002
Revises: identity_0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity_0002"
down_revision: str | Sequence[str] | None = "identity_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The audit log is append-only in the database itself, not only in the service layer.
_PG_APPEND_ONLY = """
CREATE OR REPLACE FUNCTION identity_audit_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'identity_audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER identity_audit_no_update BEFORE UPDATE OR DELETE ON identity_audit_log
    FOR EACH ROW EXECUTE FUNCTION identity_audit_append_only();
"""
_SQLITE_APPEND_ONLY = [
    """CREATE TRIGGER identity_audit_no_update BEFORE UPDATE ON identity_audit_log
    BEGIN SELECT RAISE(ABORT, 'identity_audit_log is append-only'); END""",
    """CREATE TRIGGER identity_audit_no_delete BEFORE DELETE ON identity_audit_log
    BEGIN SELECT RAISE(ABORT, 'identity_audit_log is append-only'); END""",
]


def upgrade() -> None:
    op.create_table(
        "identity_audit_log",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=80), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_identity_audit_log")),
    )
    op.create_index(
        "ix_identity_audit_log_subject", "identity_audit_log", ["subject", "seq"], unique=False
    )
    op.create_table(
        "identity_challenges",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("challenge", sa.LargeBinary(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_challenges")),
    )
    op.create_table(
        "identity_consents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_consents")),
    )
    op.create_index(
        op.f("ix_identity_consents_customer_id"), "identity_consents", ["customer_id"], unique=False
    )
    op.create_table(
        "identity_face_templates",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("template_enc", sa.Text(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_match_distance", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_identity_face_templates")),
    )
    op.create_table(
        "identity_login_challenges",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("device", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_login_challenges")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_identity_login_challenges_token_hash")),
    )
    op.create_table(
        "identity_passkeys",
        sa.Column("credential_id", sa.String(length=400), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("credential_id", name=op.f("pk_identity_passkeys")),
    )
    op.create_index(
        op.f("ix_identity_passkeys_customer_id"), "identity_passkeys", ["customer_id"], unique=False
    )
    op.create_table(
        "identity_passwords",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("hash", sa.String(length=200), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_identity_passwords")),
    )
    op.create_table(
        "identity_persons",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("id_type", sa.String(length=32), nullable=False),
        sa.Column("id_country", sa.String(length=3), nullable=False),
        sa.Column("id_number_enc", sa.Text(), nullable=False),
        sa.Column("id_number_bidx", sa.String(length=64), nullable=False),
        sa.Column("id_number_masked", sa.String(length=40), nullable=False),
        sa.Column("name_enc", sa.Text(), nullable=False),
        sa.Column("name_masked", sa.String(length=120), nullable=False),
        sa.Column("phone_enc", sa.Text(), nullable=False),
        sa.Column("phone_bidx", sa.String(length=64), nullable=False),
        sa.Column("phone_masked", sa.String(length=20), nullable=False),
        sa.Column("birth_date_enc", sa.Text(), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("kyc_status", sa.String(length=16), nullable=False),
        sa.Column("kyc_checked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_identity_persons")),
        sa.UniqueConstraint(
            "id_type", "id_number_bidx", name=op.f("uq_identity_persons_id_type_id_number_bidx")
        ),
        sa.UniqueConstraint("phone_bidx", name=op.f("uq_identity_persons_phone_bidx")),
    )
    op.create_table(
        "identity_recovery_codes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_recovery_codes")),
    )
    op.create_index(
        op.f("ix_identity_recovery_codes_customer_id"),
        "identity_recovery_codes",
        ["customer_id"],
        unique=False,
    )
    op.create_table(
        "identity_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("device", sa.String(length=200), nullable=False),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.String(length=64), nullable=True),
        sa.Column("stepped_up_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("step_up_method", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_sessions")),
    )
    op.create_index(
        op.f("ix_identity_sessions_customer_id"), "identity_sessions", ["customer_id"], unique=False
    )
    op.create_table(
        "identity_signing_keys",
        sa.Column("kid", sa.String(length=36), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_enc", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_identity_signing_keys")),
    )
    op.create_table(
        "identity_totp",
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.Integer(), nullable=False),
        sa.Column("failed_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_identity_totp")),
    )
    op.create_table(
        "identity_bank_cards",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("card_enc", sa.Text(), nullable=False),
        sa.Column("card_bidx", sa.String(length=64), nullable=False),
        sa.Column("card_masked", sa.String(length=24), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["identity_persons.customer_id"],
            name=op.f("fk_identity_bank_cards_customer_id_identity_persons"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_bank_cards")),
        sa.UniqueConstraint(
            "customer_id", "card_bidx", name=op.f("uq_identity_bank_cards_customer_id_card_bidx")
        ),
    )
    op.create_index(
        op.f("ix_identity_bank_cards_customer_id"),
        "identity_bank_cards",
        ["customer_id"],
        unique=False,
    )
    op.create_table(
        "identity_refresh_tokens",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["identity_sessions.id"],
            name=op.f("fk_identity_refresh_tokens_session_id_identity_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_identity_refresh_tokens_token_hash")),
    )
    op.create_index(
        op.f("ix_identity_refresh_tokens_session_id"),
        "identity_refresh_tokens",
        ["session_id"],
        unique=False,
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
    else:
        for statement in _SQLITE_APPEND_ONLY:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS identity_audit_no_update ON identity_audit_log")
        op.execute("DROP FUNCTION IF EXISTS identity_audit_append_only()")
    op.drop_index(
        op.f("ix_identity_refresh_tokens_session_id"), table_name="identity_refresh_tokens"
    )
    op.drop_table("identity_refresh_tokens")
    op.drop_index(op.f("ix_identity_bank_cards_customer_id"), table_name="identity_bank_cards")
    op.drop_table("identity_bank_cards")
    op.drop_table("identity_totp")
    op.drop_table("identity_signing_keys")
    op.drop_index(op.f("ix_identity_sessions_customer_id"), table_name="identity_sessions")
    op.drop_table("identity_sessions")
    op.drop_index(
        op.f("ix_identity_recovery_codes_customer_id"), table_name="identity_recovery_codes"
    )
    op.drop_table("identity_recovery_codes")
    op.drop_table("identity_persons")
    op.drop_table("identity_passwords")
    op.drop_index(op.f("ix_identity_passkeys_customer_id"), table_name="identity_passkeys")
    op.drop_table("identity_passkeys")
    op.drop_table("identity_login_challenges")
    op.drop_table("identity_face_templates")
    op.drop_index(op.f("ix_identity_consents_customer_id"), table_name="identity_consents")
    op.drop_table("identity_consents")
    op.drop_table("identity_challenges")
    op.drop_index("ix_identity_audit_log_subject", table_name="identity_audit_log")
    op.drop_table("identity_audit_log")
