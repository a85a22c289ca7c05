"""Periodic limit review: re-score a line through the credit port and move its limit by the
current policy (issue 14).

The rules, in one place:
- only active lines are reviewed (a suspended line's floor is its balance already), each at
  most once per business date, and the close of business reviews lines whose last review (or
  opening) is ``every_days`` old, at most ``batch`` a day, so a month-end stays bounded;
- the score uses the features stored with the line's application, with the repayment status of
  the latest month (``PAY_0``, as in the Taiwan data the scorecard learnt from) taken from the
  line's own days past due: -1 paid duly, else months late;
- the policy's limit (score band x income band, less the customer's other lines) raises or
  lowers the limit; a policy decline lowers it as far as it can go;
- a lowered limit never goes below what is in use (owed + holds, up to a whole hundred): the
  bank never puts a line over its limit by its own action. When that stops the cut, the review
  says so (``held``, or ``lowered`` with the reason).
- each decision is a row, an event, and a line in the audit log in one transaction; the ledger
  floor moves first (idempotent), the customer is told afterwards (once per review).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from finbridge.core.errors import BusinessRuleViolation, FinbridgeError, NotFound
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.lake import Event, emit
from finbridge.lending.products import LimitPolicy, ProductTerms
from finbridge.lending.tables import (
    ApplicationRow,
    LimitReviewRow,
    LineRow,
    PurchaseRow,
)

HUNDRED = 10_000  # minor units: limits are whole hundreds


@dataclass(frozen=True, slots=True)
class LimitReview:
    id: str
    line_id: str
    business_date: date
    outcome: str  # raised | lowered | kept | held
    old_limit: Money
    new_limit: Money
    used: Money
    score: float | None
    score_model: str | None
    policy_version: int
    reasons: tuple[str, ...]
    audit_seq: int | None
    created_at: datetime

    @classmethod
    def of(cls, row: LimitReviewRow, currency: str) -> LimitReview:
        def m(minor: int) -> Money:
            return Money.from_minor(minor, currency)

        at = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=UTC)
        return cls(
            row.id, row.line_id, row.business_date, row.outcome, m(row.old_limit_minor),
            m(row.new_limit_minor), m(row.used_minor), row.score, row.score_model,
            row.policy_version, tuple(row.reasons), row.audit_seq, at,
        )  # fmt: skip


def decide(
    old: int, used: int, policy_limit: int | None, policy_reasons: list[str], currency: str
) -> tuple[str, int, list[str]]:
    """(outcome, new limit, reasons) from the policy's limit and what the line uses."""
    target = 0 if policy_limit is None else policy_limit
    reasons = list(policy_reasons)
    if target > old:
        return "raised", target, reasons
    if target == old:
        return "kept", old, reasons
    in_use = -(-used // HUNDRED) * HUNDRED  # up to a whole hundred
    new = max(target, in_use)
    if new >= old:
        amount = Money.from_minor(used, currency).amount
        return "held", old, [*reasons, f"the policy allows less, but {amount} is in use"]
    if new > target:
        allowed = Money.from_minor(target, currency).amount
        reasons.append(f"lowered to the amount in use, not to the policy's {allowed}")
    return "lowered", new, reasons


class LimitReviews:
    """Bound to one lending service (``platform.lending.reviews``)."""

    def __init__(self, service: Any, *, every_days: int = 90, batch: int = 500) -> None:
        self.svc = service
        self.every_days = every_days
        self.batch = batch

    # -- reading -------------------------------------------------------------------------

    def reviews(self, actor: Principal, line_id: str) -> list[LimitReview]:
        line = self.svc._line_row(actor, line_id, "lending:read")
        with self.svc._tx() as session:
            rows = session.execute(
                select(LimitReviewRow)
                .where(LimitReviewRow.line_id == line_id)
                .order_by(LimitReviewRow.business_date.desc())
            ).scalars()
            return [LimitReview.of(r, line.currency) for r in rows]

    # -- deciding ------------------------------------------------------------------------

    def review(self, actor: Principal, line_id: str) -> LimitReview:
        """Review one line now (operators: ``lending:write``); once per line and date."""
        from finbridge.lending.service import _customer_side

        if _customer_side(actor):
            raise NotFound("no such credit line", field="line_id")
        actor.require_scope("lending:write")
        with self.svc._tx() as session:
            line = session.get(LineRow, line_id)
            if line is None:
                raise NotFound("no such credit line", field="line_id")
            day = self.svc.activity_date(session)
        if line.status != "active":
            raise BusinessRuleViolation(f"the line is {line.status}", field="line_id")
        return self._review(line_id, day, actor.id)

    def review_due(self, day: date) -> dict[str, int]:
        """The close of business's step: lines whose last review (or opening) is old enough."""
        cutoff = day - timedelta(days=self.every_days)
        with self.svc._tx() as session:
            last = (
                select(func.max(LimitReviewRow.business_date))
                .where(LimitReviewRow.line_id == LineRow.id)
                .scalar_subquery()
            )
            due = list(
                session.execute(
                    select(LineRow.id)
                    .where(
                        LineRow.status == "active",
                        func.coalesce(last, LineRow.opened_on) <= cutoff,
                    )
                    .order_by(LineRow.id)
                    .limit(self.batch)
                ).scalars()
            )
        counts: dict[str, int] = {"reviewed": 0}
        for line_id in due:
            outcome = self._review(line_id, day, "lending").outcome
            counts["reviewed"] += 1
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def _review(self, line_id: str, day: date, actor_id: str) -> LimitReview:
        with self.svc._tx() as session:
            done = session.execute(
                select(LimitReviewRow).where(
                    LimitReviewRow.line_id == line_id, LimitReviewRow.business_date == day
                )
            ).scalar_one_or_none()
            line = session.get(LineRow, line_id)
            assert line is not None
            if done is not None:
                review = LimitReview.of(done, line.currency)
                self._notify(line.customer_id, review)
                return review
            app = session.execute(
                select(ApplicationRow)
                .where(ApplicationRow.line_id == line_id)
                .order_by(ApplicationRow.created_at)
                .limit(1)
            ).scalar_one_or_none()
            policy = self.svc._policy(session)
            exposure = session.execute(
                select(func.coalesce(func.sum(LineRow.limit_minor), 0)).where(
                    LineRow.customer_id == line.customer_id,
                    LineRow.status != "closed",
                    LineRow.id != line_id,
                )
            ).scalar_one()
            held = session.execute(
                select(func.coalesce(func.sum(PurchaseRow.authorised_minor), 0)).where(
                    PurchaseRow.line_id == line_id, PurchaseRow.status == "authorised"
                )
            ).scalar_one()
        cur = line.currency
        owed = sum(
            getattr(line, f"{p}_minor")
            for p in ("fees", "interest", "revolving", "cash", "purchases", "instalment_due",
                      "instalment")
        )  # fmt: skip
        used = max(0, owed - line.credit_minor) + int(held)
        inputs = dict(app.inputs) if app is not None else {}
        applicant = dict(inputs.get("applicant") or {})
        applicant["PAY_0"] = -1 if line.dpd <= 0 else (line.dpd + 29) // 30
        income_band = str(inputs.get("income_band") or "")
        terms = ProductTerms.parse(line.terms)
        score, model, reasons, limit = self._score(
            line.customer_id, applicant, income_band, policy, int(exposure), terms
        )
        if score is None:
            outcome, new, reasons = "kept", line.limit_minor, reasons
        else:
            outcome, new, reasons = decide(line.limit_minor, used, limit, reasons, cur)
        if new != line.limit_minor:
            # The ledger first (idempotent): the floor is what actually enforces the limit.
            from finbridge.lending.service import LENDING

            self.svc.bank_postings.set_floor(LENDING, line.account_id, Money.from_minor(-new, cur))
        row = LimitReviewRow(
            id=new_id(), line_id=line_id, business_date=day, outcome=outcome,
            old_limit_minor=line.limit_minor, new_limit_minor=new, used_minor=used, score=score,
            score_model=model, policy_version=policy.version, reasons=reasons,
            inputs={"applicant": applicant, "income_band": income_band,
                    "exposure_minor": int(exposure)},
            audit_seq=None, created_at=self.svc.clock.now(),
        )  # fmt: skip
        try:
            with self.svc._tx() as session:
                fresh = self.svc._lock_line(session, line_id)
                fresh.limit_minor = new
                session.add(row)
                session.flush()
                row.audit_seq = self.svc.audit.append(
                    session, actor=actor_id, action="lending.limit_review", subject=line_id,
                    outcome=outcome,
                    detail={"review_id": row.id, "old_limit": row.old_limit_minor,
                            "new_limit": new, "score": score, "model": model,
                            "policy_version": policy.version, "business_date": day.isoformat()},
                ) or None  # fmt: skip
                emit(session, self._event(row, line.customer_id, cur))
        except IntegrityError:
            # A racing review of the same line and date committed first: its decision stands.
            return self._review(line_id, day, actor_id)
        review = LimitReview.of(row, cur)
        self._notify(line.customer_id, review)
        return review

    def _score(
        self,
        customer_id: str,
        applicant: dict[str, Any],
        income_band: str,
        policy: LimitPolicy,
        exposure: int,
        terms: ProductTerms,
    ) -> tuple[float | None, str | None, list[str], int | None]:
        scorer = self.svc._scorer
        if scorer is None:
            return None, None, ["no credit model is wired to re-score the line"], None
        try:
            scored = scorer.score(customer_id, applicant)
        except FinbridgeError as exc:
            return None, None, [f"the line could not be re-scored: {exc.detail}"], None
        # One model's fault must not stop the bank's day: the review says so and keeps the limit.
        except Exception as exc:
            return None, None, [f"the line could not be re-scored ({type(exc).__name__})"], None
        limit, reasons = policy.limit_for(
            scored.score, income_band, Money.from_minor(exposure, terms.currency), terms
        )
        return scored.score, scored.model, reasons, None if limit is None else limit.minor

    def _event(self, row: LimitReviewRow, customer_id: str, cur: str) -> Event:
        return Event(
            event_type="lending.limit_reviewed",
            occurred_at=row.created_at,
            source="lending",
            subject_id=customer_id,
            payload={
                "line_id": row.line_id,
                "review_id": row.id,
                "outcome": row.outcome,
                "old_limit": str(Money.from_minor(row.old_limit_minor, cur).amount),
                "new_limit": str(Money.from_minor(row.new_limit_minor, cur).amount),
                "currency": cur,
                "score": row.score,
                "score_model": row.score_model,
                "policy_version": row.policy_version,
                "reasons": list(row.reasons),
            },
        ).validated()

    def _notify(self, customer_id: str, review: LimitReview) -> None:
        if review.outcome not in ("raised", "lowered"):
            return
        word = "raised" if review.outcome == "raised" else "lowered"
        self.svc.notices.notify(
            customer_id,
            title=f"Your credit line limit was {word}",
            body=(
                f"After our periodic review your limit is now {review.new_limit.amount} "
                f"{review.new_limit.code} (it was {review.old_limit.amount})."
            ),
            reference=f"limit-review-{review.id}",
        )
