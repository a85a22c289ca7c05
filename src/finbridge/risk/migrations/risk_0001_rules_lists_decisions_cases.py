"""risk: rule sets, lists, decisions, cases and notes

Revision ID: risk_0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "risk_0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = ("risk",)
depends_on: str | Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "risk_rule_sets",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("promoted_by", sa.String(64), nullable=True),
        sa.Column("promoted_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_rule_sets")),
    )
    op.create_index(
        "uq_risk_rule_sets_name_version", "risk_rule_sets", ["name", "version"], unique=True
    )
    op.create_index("ix_risk_rule_sets_status", "risk_rule_sets", ["status"])

    op.create_table(
        "risk_list_entries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("list_kind", sa.String(8), nullable=False),
        sa.Column("entity_type", sa.String(16), nullable=False),
        sa.Column("value", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(120), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=True),
        sa.Column("removed_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_list_entries")),
    )
    op.create_index("ix_risk_list_entries_lookup", "risk_list_entries", ["entity_type", "value"])

    op.create_table(
        "risk_decisions",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("event_type", sa.String(32), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("decided_at", TZ, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("ml_score", sa.Float(), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("rule_set", sa.String(100), nullable=False),
        sa.Column("model_version", sa.String(100), nullable=False),
        sa.Column("fired", sa.JSON(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("degraded", sa.Text(), nullable=True),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_decisions")),
    )
    op.create_index(
        "uq_risk_decisions_event_mode", "risk_decisions", ["event_id", "mode"], unique=True
    )
    op.create_index("ix_risk_decisions_customer", "risk_decisions", ["customer_id", "occurred_at"])
    op.create_index("ix_risk_decisions_decided", "risk_decisions", ["decided_at"])

    op.create_table(
        "risk_cases",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("assignee", sa.String(64), nullable=True),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("sla_due_at", TZ, nullable=False),
        sa.Column("closed_at", TZ, nullable=True),
        sa.Column("resolution", sa.String(16), nullable=True),
        sa.Column("label", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_cases")),
    )
    op.create_index("ix_risk_cases_queue", "risk_cases", ["status", "sla_due_at"])

    op.create_table(
        "risk_case_notes",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("case_id", sa.String(36), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_case_notes")),
    )
    op.create_index("ix_risk_case_notes_case", "risk_case_notes", ["case_id", "created_at"])


def downgrade() -> None:
    op.drop_table("risk_case_notes")
    op.drop_table("risk_cases")
    op.drop_table("risk_decisions")
    op.drop_table("risk_list_entries")
    op.drop_table("risk_rule_sets")
