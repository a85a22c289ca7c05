"""credit: model registry and score records

Revision ID: credit_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "credit_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("credit",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "credit_model_versions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("model_name", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("is_live", sa.Boolean(), nullable=False),
        sa.Column("artifact", sa.LargeBinary(), nullable=False),
        sa.Column("artifact_sha256", sa.String(64), nullable=False),
        sa.Column("data_fingerprint", sa.String(64), nullable=False),
        sa.Column("n_train", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("features", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("trained_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_model_versions")),
        sa.UniqueConstraint(
            "model_name", "version", name=op.f("uq_credit_model_versions_model_name_version")
        ),
    )
    op.create_index(
        "uq_credit_model_versions_live",
        "credit_model_versions",
        ["model_name"],
        unique=True,
        sqlite_where=sa.text("is_live"),
        postgresql_where=sa.text("is_live"),
    )
    op.create_table(
        "credit_scores",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("model_version_id", sa.String(36), nullable=False),
        sa.Column("model_name", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(64), nullable=True),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("probability_bad", sa.Float(), nullable=False),
        sa.Column("band", sa.String(16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(120), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_scores")),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["credit_model_versions.id"],
            name=op.f("fk_credit_scores_model_version_id_credit_model_versions"),
        ),
    )
    op.create_index("ix_credit_scores_subject", "credit_scores", ["subject_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_credit_scores_subject", table_name="credit_scores")
    op.drop_table("credit_scores")
    op.drop_index("uq_credit_model_versions_live", table_name="credit_model_versions")
    op.drop_table("credit_model_versions")
