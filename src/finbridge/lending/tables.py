"""Lending tables. Money in integer minor units; interest accrued in micro-minor units
(1e-6 of a minor unit) so daily accrual is exact integer arithmetic in SQL."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from finbridge.store.metadata import Base


class ProductRow(Base):
    __tablename__ = "lending_products"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # code@version
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("code", "version"),)


class PolicyRow(Base):
    __tablename__ = "lending_policies"

    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApplicationRow(Base):
    """One application and everything its decision was made from (reproducible)."""

    __tablename__ = "lending_applications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(250), unique=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("lending_products.id"))
    policy_version: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))  # approved | declined
    reasons: Mapped[list[str]] = mapped_column(JSON)
    score: Mapped[float | None] = mapped_column(Float)
    score_model: Mapped[str | None] = mapped_column(String(120))
    score_reasons: Mapped[list[Any]] = mapped_column(JSON)
    risk_outcome: Mapped[str | None] = mapped_column(String(16))
    risk_reasons: Mapped[list[str]] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    limit_minor: Mapped[int | None] = mapped_column(BigInteger)
    line_id: Mapped[str | None] = mapped_column(String(36))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LineRow(Base):
    """A credit line: a banking account whose floor is minus the limit, plus the lending
    buckets the ledger does not know (what bears interest, what is fees, what is overdue)."""

    __tablename__ = "lending_lines"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(36), index=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("lending_products.id"))
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)  # frozen at opening
    currency: Mapped[str] = mapped_column(String(3))
    account_id: Mapped[str] = mapped_column(String(36), unique=True)
    deposit_account_id: Mapped[str] = mapped_column(String(36))
    limit_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # active | suspended | charged_off | closed
    opened_on: Mapped[date] = mapped_column(Date)
    next_statement_date: Mapped[date] = mapped_column(Date, index=True)
    purchase_rate_e6: Mapped[int] = mapped_column(Integer)
    cash_rate_e6: Mapped[int] = mapped_column(Integer)
    # Buckets of what is owed (minor units, >= 0): their sum is minus the ledger balance when
    # the balance is negative; a positive ledger balance is the customer's credit balance.
    fees_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    interest_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    revolving_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    cash_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    purchases_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    # Instalment principal billed on a statement and due, and principal still to be billed by
    # later periods (owed to the bank, never bearing interest, not due until billed).
    instalment_due_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    instalment_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    credit_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    accrued_micro: Mapped[int] = mapped_column(BigInteger, default=0)  # not yet billed
    dpd: Mapped[int] = mapped_column(Integer, default=0)
    bucket: Mapped[str] = mapped_column(String(8), default="current")
    over_limit_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    charged_off_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    recovered_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "fees_minor >= 0 AND interest_minor >= 0 AND revolving_minor >= 0 "
            "AND cash_minor >= 0 AND purchases_minor >= 0 AND credit_minor >= 0",
            name="buckets_non_negative",
        ),
        CheckConstraint(
            "instalment_due_minor >= 0 AND instalment_minor >= 0",
            name="instalments_non_negative",
        ),
        CheckConstraint("limit_minor >= 0", name="limit_non_negative"),
    )


class PurchaseRow(Base):
    __tablename__ = "lending_purchases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    line_id: Mapped[str] = mapped_column(ForeignKey("lending_lines.id"), index=True)
    hold_id: Mapped[str] = mapped_column(String(36))
    merchant: Mapped[str] = mapped_column(String(120))
    authorised_minor: Mapped[int] = mapped_column(BigInteger)
    captured_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16))  # authorised | captured | released
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("refunded_minor <= captured_minor", name="refund_within_capture"),
        CheckConstraint("captured_minor <= authorised_minor", name="capture_within_hold"),
    )


class ActivityRow(Base):
    """Every money movement on a line with its business date and ledger entry; statements are
    sums of these, and each row's entry is on the ledger (reconciliation)."""

    __tablename__ = "lending_activity"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    line_id: Mapped[str] = mapped_column(ForeignKey("lending_lines.id"))
    business_date: Mapped[date] = mapped_column(Date)
    # purchase | refund | cash | payment | fee | interest | charge_off | recovery
    kind: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)  # > 0 raises what is owed
    entry_id: Mapped[str] = mapped_column(String(36))
    idempotency_key: Mapped[str] = mapped_column(String(250), unique=True)
    purchase_id: Mapped[str | None] = mapped_column(String(36))
    # How the movement changed the interest-bearing buckets: a close of business that runs
    # late subtracts later days' changes, so day D's interest is on day D's balances.
    cash_delta_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    revolving_delta_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_lending_activity_line_date", "line_id", "business_date"),
        # One day's rows of one kind across all lines (the close of business): lending_0004.
        Index("ix_lending_activity_date_kind", "business_date", "kind"),
    )


class StatementRow(Base):
    """A closed cycle. Written once by the COB; only ``paid_minor`` and ``status`` move later."""

    __tablename__ = "lending_statements"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    line_id: Mapped[str] = mapped_column(ForeignKey("lending_lines.id"))
    statement_date: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date, index=True)
    opening_minor: Mapped[int] = mapped_column(BigInteger)
    purchases_minor: Mapped[int] = mapped_column(BigInteger)
    refunds_minor: Mapped[int] = mapped_column(BigInteger)
    cash_minor: Mapped[int] = mapped_column(BigInteger)
    fees_minor: Mapped[int] = mapped_column(BigInteger)
    interest_minor: Mapped[int] = mapped_column(BigInteger)
    payments_minor: Mapped[int] = mapped_column(BigInteger)
    other_minor: Mapped[int] = mapped_column(BigInteger)  # charge-off, recoveries
    closing_minor: Mapped[int] = mapped_column(BigInteger)  # owed (> 0) or credit (< 0)
    minimum_due_minor: Mapped[int] = mapped_column(BigInteger)
    # Part of the closing balance that sits in instalment plans, not yet billed: not due on
    # this statement (what is due is closing - converted).
    converted_minor: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    paid_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16))  # open | paid | minimum_paid | overdue
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (UniqueConstraint("line_id", "statement_date"),)


class AccrualRow(Base):
    """One day's interest on one line: the accrual step's idempotency and its audit trail."""

    __tablename__ = "lending_accruals"

    line_id: Mapped[str] = mapped_column(ForeignKey("lending_lines.id"), primary_key=True)
    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # daily | grace_lost
    base_minor: Mapped[int] = mapped_column(BigInteger)
    micro: Mapped[int] = mapped_column(BigInteger)


class CobDayRow(Base):
    __tablename__ = "lending_cob_days"

    business_date: Mapped[date] = mapped_column(Date, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # running | done
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class CobStepRow(Base):
    __tablename__ = "lending_cob_steps"

    business_date: Mapped[date] = mapped_column(
        ForeignKey("lending_cob_days.business_date"), primary_key=True
    )
    step: Mapped[str] = mapped_column(String(60), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # running | done
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    result: Mapped[dict[str, Any]] = mapped_column(JSON)


class InstalmentPlanRow(Base):
    """A purchase or a statement converted into 3/6/9/12 periods (once per source)."""

    __tablename__ = "lending_instalment_plans"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    line_id: Mapped[str] = mapped_column(ForeignKey("lending_lines.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))  # purchase | statement
    source_id: Mapped[str] = mapped_column(String(36))
    periods: Mapped[int] = mapped_column(Integer)
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    fee_per_period_minor: Mapped[int] = mapped_column(BigInteger)
    fee_mode: Mapped[str] = mapped_column(String(16))  # per_period | upfront
    status: Mapped[str] = mapped_column(String(16))  # active | settled | charged_off
    created_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("source", "source_id"),
        CheckConstraint("principal_minor > 0", name="principal_positive"),
    )


class InstalmentPeriodRow(Base):
    """One period of a plan: billed on its statement date by the close of business."""

    __tablename__ = "lending_instalment_periods"

    plan_id: Mapped[str] = mapped_column(
        ForeignKey("lending_instalment_plans.id"), primary_key=True
    )
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    bill_date: Mapped[date] = mapped_column(Date, index=True)
    principal_minor: Mapped[int] = mapped_column(BigInteger)
    fee_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # scheduled | billed | settled | refunded


class LimitReviewRow(Base):
    """One periodic limit review of one line: what was scored, by which policy, and why."""

    __tablename__ = "lending_limit_reviews"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    line_id: Mapped[str] = mapped_column(ForeignKey("lending_lines.id"))
    business_date: Mapped[date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(16))  # raised | lowered | kept | held
    old_limit_minor: Mapped[int] = mapped_column(BigInteger)
    new_limit_minor: Mapped[int] = mapped_column(BigInteger)
    used_minor: Mapped[int] = mapped_column(BigInteger)  # owed + holds at the review
    score: Mapped[float | None] = mapped_column(Float)
    score_model: Mapped[str | None] = mapped_column(String(120))
    policy_version: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[list[str]] = mapped_column(JSON)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSON)
    audit_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        UniqueConstraint("line_id", "business_date"),
        Index("ix_lending_limit_reviews_date", "business_date"),
    )
