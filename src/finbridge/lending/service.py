"""The lending face: products, applications, lines, purchases, cash, repayments, statements.

Authorisation: operators need ``lending:read`` / ``lending:write`` (``lending:cob`` to run the
close of business); customers act on their own lines only (another customer's line is 404).
Captures and refunds are the merchant side's (operators and the platform, never customers).

Money moves through banking only (the line is a banking account whose floor is minus the
limit, so the ledger itself refuses a purchase over the available limit). Each movement is
posted first, by a deterministic idempotency key, and lending's bookkeeping (activity row and
buckets) is written afterwards under the same key: a call that dies in between is finished by
its retry, and nothing is posted twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from finbridge.banking import AccountKind, BankingService, InternalAccount
from finbridge.core.clock import Clock, business_date
from finbridge.core.errors import (
    BusinessRuleViolation,
    Conflict,
    CurrencyMismatch,
    FinbridgeError,
    InsufficientFunds,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.lake import Event, emit, emit_many
from finbridge.lending import events as _events  # noqa: F401 - registers the event schemas
from finbridge.lending.buckets import REFUND_ORDER, Buckets, waterfall
from finbridge.lending.calendar import statement_date_after
from finbridge.lending.instalments import Instalments
from finbridge.lending.models import (
    Application,
    Line,
    Purchase,
    Reconciliation,
    Statement,
)
from finbridge.lending.portfolio import Portfolio, owed_by_day, portfolio
from finbridge.lending.ports import (
    ApplicantChecks,
    ApproveApplicants,
    AuditTrail,
    CreditScorer,
    CustomerNotices,
    NoAuditTrail,
    NoNotices,
    NoRiskOpinion,
    RiskDecider,
)
from finbridge.lending.products import LimitPolicy, ProductTerms, rate_e6, shipped_catalogue
from finbridge.lending.reviews import LimitReviews
from finbridge.lending.tables import (
    ActivityRow,
    ApplicationRow,
    CobDayRow,
    InstalmentPlanRow,
    LineRow,
    PolicyRow,
    ProductRow,
    PurchaseRow,
    StatementRow,
)
from finbridge.store.engine import is_sqlite, unit_of_work

LENDING = Principal.system("lending")


def _customer_side(actor: Principal) -> bool:
    return actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY)


def _mover(actor: Principal) -> Principal:
    """Who banking sees moving a customer's money: the customer themselves when they act (so
    the posting guard, risk and step-up, judges them), the platform when an operator does."""
    return actor if _customer_side(actor) else LENDING


class LendingService:
    """One per platform (``platform.lending``)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        banking: BankingService,
        *,
        checks: ApplicantChecks | None = None,
        scorer: CreditScorer | None = None,
        risk: RiskDecider | None = None,
        business_timezone: str = "Asia/Shanghai",
        bank_postings: BankingService | None = None,
        audit: AuditTrail | None = None,
        notices: CustomerNotices | None = None,
        review_every_days: int = 90,
        review_batch: int = 500,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.banking = banking
        # The bank's own charges (interest, fees, charge-offs, refunds) are not customer
        # movements: banking does not guard interest, and the COB must not wait on risk.
        self.bank_postings = bank_postings or banking
        self._checks = checks or ApproveApplicants()
        self._scorer = scorer
        self._risk = risk or NoRiskOpinion()
        self.business_timezone = business_timezone
        self.audit: AuditTrail = audit or NoAuditTrail()
        self.notices: CustomerNotices = notices or NoNotices()
        self.instalments = Instalments(self)
        self.reviews = LimitReviews(self, every_days=review_every_days, batch=review_batch)

    # -- authorisation and plumbing ------------------------------------------------------

    def _authorise(self, actor: Principal, scope: str, customer_id: str) -> None:
        if _customer_side(actor):
            if not actor.can_act_for(customer_id):
                raise NotFound("no such object")
            return
        actor.require_scope(scope)

    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with unit_of_work(self.engine) as session:
            yield session

    def _lock_line(self, session: Session, line_id: str) -> LineRow:
        stmt = select(LineRow).where(LineRow.id == line_id)
        if not is_sqlite(self.engine):
            stmt = stmt.with_for_update()
        row = session.execute(stmt).scalar_one_or_none()
        if row is None:
            raise NotFound("no such credit line", field="line_id")
        return row

    def first_opened(self) -> date | None:
        """The first business date any line existed (where a first close of business starts)."""
        with self._tx() as session:
            found: date | None = session.execute(select(func.min(LineRow.opened_on))).scalar()
            return found

    def today(self) -> date:
        return business_date(self.clock.now(), self.business_timezone)

    def activity_date(self, session: Session) -> date:
        """The business date new activity belongs to: today, but never a date whose close of
        business has already started (that day's statements are being or were cut)."""
        last = session.execute(select(func.max(CobDayRow.business_date))).scalar()
        today = self.today()
        return today if last is None or last < today else last + timedelta(days=1)

    @staticmethod
    def _key(line_id: str, kind: str, client_key: str) -> str:
        if not isinstance(client_key, str) or not client_key.strip() or len(client_key) > 200:
            raise ValidationError(
                "an idempotency key of 1 to 200 characters is required", field="idempotency_key"
            )
        digest = hashlib.sha256(client_key.encode()).hexdigest()[:32]
        return f"lending:{line_id}:{kind}:{digest}"

    def _internal(self, code: InternalAccount, currency: str) -> str:
        return self.banking.internal_account_id(code, currency)

    # -- products and policies -------------------------------------------------------------

    def install_catalogue(self, actor: Principal) -> int:
        """Load the shipped products and policies; existing versions are never rewritten."""
        actor.require_scope("lending:write")
        products, policies = shipped_catalogue()
        return self.install(actor, products, policies)

    def install(
        self, actor: Principal, products: list[ProductTerms], policies: list[LimitPolicy]
    ) -> int:
        actor.require_scope("lending:write")
        added = 0
        now = self.clock.now()
        with self._tx() as session:
            for terms in products:
                found = session.get(ProductRow, terms.product_id)
                if found is None:
                    session.add(
                        ProductRow(
                            id=terms.product_id,
                            code=terms.code,
                            version=terms.version,
                            currency=terms.currency,
                            terms=terms.to_json(),
                            created_at=now,
                        )
                    )
                    added += 1
                elif found.terms != terms.to_json():
                    raise Conflict(
                        f"product {terms.product_id} exists with other terms: publish a new "
                        "version instead of changing this one",
                        field="version",
                    )
            for policy in policies:
                if session.get(PolicyRow, policy.version) is None:
                    session.add(
                        PolicyRow(version=policy.version, rules=policy.to_json(), created_at=now)
                    )
                    added += 1
        return added

    def products(self, actor: Principal) -> list[ProductTerms]:
        """Products are public information: any authenticated principal may list them."""
        with self._tx() as session:
            rows = session.execute(select(ProductRow).order_by(ProductRow.id)).scalars()
            return [ProductTerms.parse(r.terms) for r in rows]

    def product(self, actor: Principal, product_id: str) -> ProductTerms:
        with self._tx() as session:
            row = session.get(ProductRow, product_id)
            if row is None:
                raise NotFound(f"unknown product {product_id!r}", field="product_id")
            return ProductTerms.parse(row.terms)

    def _policy(self, session: Session) -> LimitPolicy:
        row = session.execute(
            select(PolicyRow).order_by(PolicyRow.version.desc()).limit(1)
        ).scalar_one_or_none()
        if row is None:
            raise NotFound("no limit policy installed", field="policy")
        return LimitPolicy.parse(row.rules)

    # -- applications -------------------------------------------------------------------

    def apply(
        self,
        actor: Principal,
        customer_id: str,
        *,
        product_id: str,
        deposit_account_id: str,
        income_band: str,
        applicant: dict[str, Any],
        idempotency_key: str,
    ) -> Application:
        """Decide an application and open the line when approved. Declines are stored too."""
        self._authorise(actor, "lending:write", customer_id)
        key = self._key(customer_id, "apply", idempotency_key)
        with self._tx() as session:
            stored = session.execute(
                select(ApplicationRow).where(ApplicationRow.idempotency_key == key)
            ).scalar_one_or_none()
            if stored is not None:
                return Application.of(stored, self._currency(session, stored.product_id))
            product = session.get(ProductRow, product_id)
            if product is None:
                raise NotFound(f"unknown product {product_id!r}", field="product_id")
            terms = ProductTerms.parse(product.terms)
            policy = self._policy(session)
            exposure = session.execute(
                select(func.coalesce(func.sum(LineRow.limit_minor), 0)).where(
                    LineRow.customer_id == customer_id, LineRow.status != "closed"
                )
            ).scalar_one()
        deposit = self.banking.get_account(actor if _customer_side(actor) else LENDING,
                                           deposit_account_id)  # fmt: skip
        if deposit.customer_id != customer_id or deposit.kind is AccountKind.INTERNAL:
            raise NotFound("no such deposit account", field="deposit_account_id")
        if deposit.currency != terms.currency:
            raise CurrencyMismatch(
                f"the product lends {terms.currency}, the account is in {deposit.currency}",
                field="deposit_account_id",
            )
        app_id = new_id()
        decision = self._decide(
            app_id, customer_id, terms, policy, income_band, applicant,
            Money.from_minor(int(exposure), terms.currency),
        )  # fmt: skip
        line_id = None
        if decision["outcome"] == "approved":
            line_id = self._open_line(customer_id, terms, decision["limit_minor"], deposit.id)
        now = self.clock.now()
        row = ApplicationRow(
            id=app_id, idempotency_key=key, customer_id=customer_id, product_id=product_id,
            policy_version=policy.version, outcome=decision["outcome"],
            reasons=decision["reasons"], score=decision["score"],
            score_model=decision["score_model"], score_reasons=decision["score_reasons"],
            risk_outcome=decision["risk_outcome"], risk_reasons=decision["risk_reasons"],
            inputs=decision["inputs"], limit_minor=decision["limit_minor"], line_id=line_id,
            created_at=now,
        )  # fmt: skip
        try:
            with self._tx() as session:
                session.add(row)
                if line_id is not None:
                    self._add_line_row(session, line_id, customer_id, terms, decision, deposit.id)
                session.flush()
                emit(session, self._decision_event(row, terms))
                self._audit_decision(session, actor, row)
        except IntegrityError:
            # A racing retry of the same key decided first: its decision stands.
            with self._tx() as session:
                stored = session.execute(
                    select(ApplicationRow).where(ApplicationRow.idempotency_key == key)
                ).scalar_one()
                return Application.of(stored, terms.currency)
        return Application.of(row, terms.currency)

    def grant_line(
        self,
        actor: Principal,
        customer_id: str,
        *,
        product_id: str,
        limit: Money,
        deposit_account_id: str,
        reason: str,
        idempotency_key: str,
    ) -> Application:
        """An operator books a line without a model decision (a portfolio migrated from
        another system, the demo): stored as an approved application whose reason says who
        granted it and why, so the record stays honest about how the line came to be."""
        if _customer_side(actor):
            raise PermissionDenied("lines are granted by operators")
        actor.require_scope("lending:write")
        reason = (reason or "").strip()
        if not reason or len(reason) > 200:
            raise ValidationError("a reason of 1 to 200 characters is required", field="reason")
        key = self._key(customer_id, "grant", idempotency_key)
        with self._tx() as session:
            stored = session.execute(
                select(ApplicationRow).where(ApplicationRow.idempotency_key == key)
            ).scalar_one_or_none()
            if stored is not None:
                return Application.of(stored, limit.code)
            product = session.get(ProductRow, product_id)
            if product is None:
                raise NotFound(f"unknown product {product_id!r}", field="product_id")
            terms = ProductTerms.parse(product.terms)
            policy = self._policy(session)
        if limit.code != terms.currency:
            raise CurrencyMismatch(f"the product lends {terms.currency}", field="currency")
        if not terms.limit_min <= limit <= terms.limit_max:
            raise ValidationError(
                f"the limit must be within {terms.limit_min.amount}..{terms.limit_max.amount}",
                field="limit",
            )
        deposit = self.banking.get_account(LENDING, deposit_account_id)
        if deposit.customer_id != customer_id or deposit.currency != terms.currency:
            raise NotFound("no such deposit account", field="deposit_account_id")
        line_id = self._open_line(customer_id, terms, limit.minor, deposit.id)
        decision: dict[str, Any] = {"limit_minor": limit.minor}
        row = ApplicationRow(
            id=new_id(), idempotency_key=key, customer_id=customer_id, product_id=product_id,
            policy_version=policy.version, outcome="approved",
            reasons=[f"granted by {actor.display or actor.id}: {reason}"], score=None,
            score_model=None, score_reasons=[], risk_outcome=None, risk_reasons=[],
            inputs={"granted_by": actor.id, "terms": terms.to_json()},
            limit_minor=limit.minor, line_id=line_id, created_at=self.clock.now(),
        )  # fmt: skip
        with self._tx() as session:
            session.add(row)
            self._add_line_row(session, line_id, customer_id, terms, decision, deposit.id)
            session.flush()
            emit(session, self._decision_event(row, terms))
            self._audit_decision(session, actor, row)
        return Application.of(row, terms.currency)

    def _audit_decision(self, session: Session, actor: Principal, row: ApplicationRow) -> None:
        """The application's decision as a line in the bank's audit chain, in its transaction
        (the full inputs stay on the stored application; the line says what and why)."""
        self.audit.append(
            session, actor=actor.id, action="lending.application", subject=row.customer_id,
            outcome=row.outcome,
            detail={"application_id": row.id, "product_id": row.product_id,
                    "line_id": row.line_id, "limit_minor": row.limit_minor,
                    "score_model": row.score_model, "policy_version": row.policy_version,
                    "reasons": list(row.reasons)},
        )  # fmt: skip

    def _decide(
        self,
        app_id: str,
        customer_id: str,
        terms: ProductTerms,
        policy: LimitPolicy,
        income_band: str,
        applicant: dict[str, Any],
        exposure: Money,
    ) -> dict[str, Any]:
        inputs = {
            "income_band": income_band,
            "applicant": applicant,
            "exposure_minor": exposure.minor,
            "terms": terms.to_json(),
        }
        out: dict[str, Any] = {
            "outcome": "declined", "reasons": [], "score": None, "score_model": None,
            "score_reasons": [], "risk_outcome": None, "risk_reasons": [],
            "inputs": inputs, "limit_minor": None,
        }  # fmt: skip
        check = self._checks.check(customer_id)
        if not check.passed:
            out["reasons"] = list(check.refusals)
            return out
        if self._scorer is None:
            out["reasons"] = ["no credit model is wired to score the application"]
            return out
        try:
            scored = self._scorer.score(customer_id, applicant)
        except FinbridgeError as exc:
            out["reasons"] = [f"the credit score could not be computed: {exc.detail}"]
            return out
        out.update(score=scored.score, score_model=scored.model,
                   score_reasons=list(scored.reasons))  # fmt: skip
        opinion = self._risk.assess(customer_id, terms.limit_max, f"lending-application-{app_id}")
        out.update(risk_outcome=opinion.outcome, risk_reasons=list(opinion.reasons))
        if opinion.outcome == "decline":
            out["reasons"] = ["declined by the risk engine", *opinion.reasons]
            return out
        return {**out, **self.limit_decision(policy, scored.score, income_band, exposure, terms)}

    @staticmethod
    def limit_decision(
        policy: LimitPolicy, score: float, income_band: str, exposure: Money, terms: ProductTerms
    ) -> dict[str, Any]:
        """The policy part of a decision, reproducible from what the application stored."""
        limit, reasons = policy.limit_for(score, income_band, exposure, terms)
        if limit is None:
            return {"outcome": "declined", "reasons": reasons, "limit_minor": None}
        return {"outcome": "approved", "reasons": [], "limit_minor": limit.minor}

    def reproduce(self, actor: Principal, application_id: str) -> dict[str, Any]:
        """Recompute an application's policy decision from its stored inputs and policy."""
        app = self.application(actor, application_id)
        with self._tx() as session:
            rules = session.get(PolicyRow, app.policy_version)
            assert rules is not None
            policy = LimitPolicy.parse(rules.rules)
        terms = ProductTerms.parse(app.inputs["terms"])
        if app.score is None or app.risk_outcome == "decline":
            return {"outcome": app.outcome, "limit_minor": None}
        exposure = Money.from_minor(app.inputs["exposure_minor"], terms.currency)
        again = self.limit_decision(policy, app.score, app.inputs["income_band"], exposure, terms)
        return {"outcome": again["outcome"], "limit_minor": again["limit_minor"]}

    def _open_line(self, customer_id: str, terms: ProductTerms, limit_minor: int, dep: str) -> str:
        account = self.banking.open_account(
            LENDING, customer_id, kind=AccountKind.CURRENT, currency_code=terms.currency
        )
        # The ledger enforces the available limit: the line may go down to minus the limit.
        self.banking.set_floor(LENDING, account.id, Money.from_minor(-limit_minor, terms.currency))
        return account.id

    def _add_line_row(
        self,
        session: Session,
        account_id: str,
        customer_id: str,
        terms: ProductTerms,
        decision: dict[str, Any],
        deposit_id: str,
    ) -> None:
        today = self.activity_date(session)
        session.add(
            LineRow(
                id=account_id,
                customer_id=customer_id,
                product_id=terms.product_id,
                terms=terms.to_json(),
                currency=terms.currency,
                account_id=account_id,
                deposit_account_id=deposit_id,
                limit_minor=decision["limit_minor"],
                status="active",
                opened_on=today,
                next_statement_date=statement_date_after(today, terms.statement_day),
                purchase_rate_e6=rate_e6(terms.daily_rate, "daily_rate"),
                cash_rate_e6=rate_e6(terms.cash_daily_rate, "cash_daily_rate"),
                fees_minor=0,
                interest_minor=0,
                revolving_minor=0,
                cash_minor=0,
                purchases_minor=0,
                credit_minor=0,
                accrued_micro=0,
                dpd=0,
                bucket="current",
                over_limit_minor=0,
                charged_off_minor=0,
                recovered_minor=0,
                created_at=self.clock.now(),
            )
        )

    def _decision_event(self, row: ApplicationRow, terms: ProductTerms) -> Event:
        limit = None
        if row.limit_minor is not None:
            limit = str(Money.from_minor(row.limit_minor, terms.currency).amount)
        return Event(
            event_type="lending.application_decided",
            occurred_at=row.created_at,
            source="lending",
            subject_id=row.customer_id,
            payload={
                "application_id": row.id,
                "product_id": row.product_id,
                "outcome": row.outcome,
                "reasons": row.reasons,
                "limit": limit,
                "currency": terms.currency,
                "score_model": row.score_model,
                "policy_version": row.policy_version,
            },
        ).validated()

    def _currency(self, session: Session, product_id: str) -> str:
        row = session.get(ProductRow, product_id)
        return row.currency if row is not None else "CNY"

    def application(self, actor: Principal, application_id: str) -> Application:
        with self._tx() as session:
            row = session.get(ApplicationRow, application_id)
            if row is None or (_customer_side(actor) and not actor.can_act_for(row.customer_id)):
                raise NotFound("no such application", field="application_id")
            if not _customer_side(actor):
                actor.require_scope("lending:read")
            return Application.of(row, self._currency(session, row.product_id))

    def applications(self, actor: Principal, customer_id: str) -> list[Application]:
        self._authorise(actor, "lending:read", customer_id)
        with self._tx() as session:
            rows = session.execute(
                select(ApplicationRow)
                .where(ApplicationRow.customer_id == customer_id)
                .order_by(ApplicationRow.id.desc())
            ).scalars()
            return [Application.of(r, self._currency(session, r.product_id)) for r in rows]

    # -- lines ------------------------------------------------------------------------------

    def _line_row(self, actor: Principal, line_id: str, scope: str) -> LineRow:
        with self._tx() as session:
            row = session.get(LineRow, line_id)
        if row is None:
            raise NotFound("no such credit line", field="line_id")
        self._authorise(actor, scope, row.customer_id)
        return row

    def line(self, actor: Principal, line_id: str) -> Line:
        return Line.of(self._line_row(actor, line_id, "lending:read"))

    def lines(
        self, actor: Principal, *, customer_id: str | None = None, limit: int = 100
    ) -> list[Line]:
        if _customer_side(actor):
            customer_id = actor.customer_id
        else:
            actor.require_scope("lending:read")
        stmt = select(LineRow).order_by(LineRow.id.desc()).limit(max(1, min(limit, 1000)))
        if customer_id is not None:
            stmt = stmt.where(LineRow.customer_id == customer_id)
        # A read (the app's home card asks on every visit): no SQLite write lock, no PostgreSQL
        # BEGIN/COMMIT round trips.
        with unit_of_work(self.engine, write=False) as session:
            return [Line.of(r) for r in session.execute(stmt).scalars()]

    def portfolio(self, actor: Principal, currency: str = "CNY") -> Portfolio:
        """Operators only: counts, buckets, limits, balances, income and losses."""
        if _customer_side(actor):
            raise PermissionDenied("the portfolio is for operators")
        actor.require_scope("lending:read")
        with self._tx() as session:
            return portfolio(session, currency)

    def owed_history(self, actor: Principal, line_id: str) -> list[tuple[date, Money]]:
        """End-of-day owed amount on each day the line moved (the utilisation chart)."""
        row = self._line_row(actor, line_id, "lending:read")
        with self._tx() as session:
            days = owed_by_day(session, line_id)
        return [(d, Money.from_minor(v, row.currency)) for d, v in days]

    # -- money movements ---------------------------------------------------------------------

    def authorise_purchase(
        self,
        actor: Principal,
        line_id: str,
        amount: Money,
        *,
        merchant: str,
        idempotency_key: str,
    ) -> Purchase:
        """Reserve ``amount`` on the line (a hold); the ledger refuses it over the limit."""
        row = self._line_row(actor, line_id, "lending:write")
        self._usable(row, amount)
        merchant = (merchant or "").strip()
        if not merchant or len(merchant) > 120:
            raise ValidationError("merchant must be 1 to 120 characters", field="merchant")
        key = self.purchase_hold_key(line_id, idempotency_key)
        try:
            hold = self.banking.place_hold(
                _mover(actor), row.account_id, amount, idempotency_key=key, description=merchant
            )
        except InsufficientFunds as exc:
            raise InsufficientFunds(
                "the amount is over the line's available limit", field="amount"
            ) from exc
        with self._tx() as session:
            found = session.execute(
                select(PurchaseRow).where(PurchaseRow.hold_id == hold.id)
            ).scalar_one_or_none()
            if found is None:
                found = PurchaseRow(
                    id=hold.id, line_id=line_id, hold_id=hold.id, merchant=merchant,
                    authorised_minor=amount.minor, captured_minor=0, refunded_minor=0,
                    status="authorised", created_at=self.clock.now(),
                )  # fmt: skip
                session.add(found)
            return Purchase.of(found, row.currency)

    @classmethod
    def purchase_hold_key(cls, line_id: str, idempotency_key: str) -> str:
        """The idempotency key a purchase's hold is placed under (as the customer when they
        buy): the posting guard judged the purchase under this key, so an engine completing the
        same purchase at the customer's request posts under it and meets that one decision."""
        return cls._key(line_id, "purchase", idempotency_key)

    def _usable(self, row: LineRow, amount: Money) -> None:
        if amount.code != row.currency:
            raise CurrencyMismatch(f"the line is in {row.currency}", field="currency")
        if not amount.is_positive():
            raise ValidationError("the amount must be positive", field="amount")
        if row.status != "active":
            raise BusinessRuleViolation(f"the line is {row.status}", field="line_id")

    def _purchase(self, actor: Principal, purchase_id: str) -> tuple[PurchaseRow, LineRow]:
        with self._tx() as session:
            purchase = session.get(PurchaseRow, purchase_id)
        if purchase is None:
            raise NotFound("no such purchase", field="purchase_id")
        row = self._line_row(actor, purchase.line_id, "lending:read")
        return purchase, row

    def capture_purchase(
        self,
        actor: Principal,
        purchase_id: str,
        *,
        idempotency_key: str,
        amount: Money | None = None,
    ) -> Purchase:
        """The merchant settles (all or part of) an authorised purchase; the rest is released."""
        if _customer_side(actor):
            raise NotFound("no such purchase", field="purchase_id")
        actor.require_scope("lending:write")
        purchase, row = self._purchase(actor, purchase_id)
        capture = Money.from_minor(purchase.authorised_minor, row.currency) if amount is None \
            else amount  # fmt: skip
        if capture.code != row.currency:
            raise CurrencyMismatch(f"the line is in {row.currency}", field="currency")
        if capture.minor > purchase.authorised_minor or not capture.is_positive():
            raise ValidationError("capture 0 < amount <= the authorised amount", field="amount")
        key = self._key(row.id, "capture", f"{purchase_id}:{idempotency_key}")
        result = self.banking.capture_hold(
            LENDING, purchase.hold_id,
            to_account_id=self._internal(InternalAccount.CARD_SETTLEMENT, row.currency),
            idempotency_key=key, amount=capture, description=purchase.merchant,
        )  # fmt: skip
        self._book(
            row.id,
            "purchase",
            capture.minor,
            result.entry_id,
            key,
            purchase_id,
            purchase_update={"captured_minor": capture.minor, "status": "captured"},
        )
        return self.purchase(actor, purchase_id)

    def void_purchase(self, actor: Principal, purchase_id: str, *, reason: str) -> Purchase:
        """An authorised purchase that will not be captured: its hold is given back and it is
        marked released. The ledger's hold decides, so the two never disagree: a hold already
        released (or expired) is only recorded, and a hold the ledger captured (its booking
        here failed after the capture) is refused with ``Conflict``: ``capture_purchase`` with
        the same key completes it. Safe to repeat."""
        if _customer_side(actor):
            raise NotFound("no such purchase", field="purchase_id")
        actor.require_scope("lending:write")
        purchase, _ = self._purchase(actor, purchase_id)
        if purchase.status == "released":
            return self.purchase(actor, purchase_id)
        if purchase.status != "authorised":
            raise Conflict(f"the purchase is {purchase.status}", field="purchase_id")
        # Raises Conflict if the ledger captured the hold; a released hold comes back as is.
        self.banking.release_hold(LENDING, purchase.hold_id, reason=reason[:200] or "voided")
        with self._tx() as session:
            session.execute(
                update(PurchaseRow)
                .where(PurchaseRow.id == purchase_id, PurchaseRow.status == "authorised")
                .values(status="released")
            )
        return self.purchase(actor, purchase_id)

    def purchase(self, actor: Principal, purchase_id: str) -> Purchase:
        purchase, row = self._purchase(actor, purchase_id)
        return Purchase.of(purchase, row.currency)

    def refund(
        self, actor: Principal, purchase_id: str, amount: Money, *, idempotency_key: str
    ) -> Purchase:
        """Return money for a captured purchase (also after its statement)."""
        if _customer_side(actor):
            raise NotFound("no such purchase", field="purchase_id")
        actor.require_scope("lending:write")
        purchase, row = self._purchase(actor, purchase_id)
        if amount.code != row.currency:
            raise CurrencyMismatch(f"the line is in {row.currency}", field="currency")
        key = self._key(row.id, "refund", f"{purchase_id}:{idempotency_key}")
        with self._tx() as session:
            done = session.execute(
                select(ActivityRow.id).where(ActivityRow.idempotency_key == key)
            ).first()
            planned = session.execute(
                select(InstalmentPlanRow.status).where(
                    InstalmentPlanRow.source == "purchase",
                    InstalmentPlanRow.source_id == purchase_id,
                )
            ).scalar()
        left = purchase.captured_minor - purchase.refunded_minor
        kind = "refund"
        if planned == "active":
            # A purchase in instalments: the refund takes unbilled principal off the plan's
            # last periods (their fees go with them); what was billed stays billed.
            kind = "plan_refund"
            left = min(left, self.instalments.unbilled_of_purchase(purchase_id))
        if done is None and (not amount.is_positive() or amount.minor > left):
            what = "of the purchase" if kind == "refund" else "unbilled in its instalment plan"
            raise ValidationError(
                f"a refund must be positive and at most what is left {what} "
                f"({Money.from_minor(left, row.currency).amount})",
                field="amount",
            )
        result = self.banking.transfer(
            LENDING, self._internal(InternalAccount.CARD_SETTLEMENT, row.currency),
            row.account_id, amount, idempotency_key=key,
            description=f"refund {purchase.merchant}",
        )  # fmt: skip
        self._book(
            row.id,
            kind,
            -amount.minor,
            result.entry_id,
            key,
            purchase_id,
            purchase_update={"refunded_minor": amount.minor},
        )
        return self.purchase(actor, purchase_id)

    def borrow_cash(
        self, actor: Principal, line_id: str, amount: Money, *, idempotency_key: str
    ) -> Line:
        """Cash from the line to the customer's deposit account; it bears interest from today."""
        row = self._line_row(actor, line_id, "lending:write")
        self._usable(row, amount)
        key = self._key(line_id, "cash", idempotency_key)
        try:
            result = self.banking.transfer(
                _mover(actor), row.account_id, row.deposit_account_id, amount,
                idempotency_key=key, description="cash from credit line",
            )  # fmt: skip
        except InsufficientFunds as exc:
            raise InsufficientFunds(
                "the amount is over the line's available limit", field="amount"
            ) from exc
        self._book(line_id, "cash", amount.minor, result.entry_id, key)
        return self.line(actor, line_id)

    def repay(
        self,
        actor: Principal,
        line_id: str,
        amount: Money,
        *,
        idempotency_key: str,
        from_account_id: str | None = None,
    ) -> Line:
        """Pay from a deposit account of the customer's; the product's waterfall splits it and
        whatever exceeds what is owed stays on the line as a credit balance. On a charged-off
        line the payment is a recovery, credited to the loss allowance."""
        row = self._line_row(actor, line_id, "lending:write")
        if amount.code != row.currency:
            raise CurrencyMismatch(
                f"the line is in {row.currency}, the payment in {amount.code}", field="currency"
            )
        if not amount.is_positive():
            raise ValidationError("the amount must be positive", field="amount")
        source = from_account_id or row.deposit_account_id
        account = self.banking.get_account(LENDING, source)
        if account.customer_id != row.customer_id:
            raise NotFound("no such account", field="from_account_id")
        recovery = row.status == "charged_off"
        kind = "recovery" if recovery else "payment"
        key = self._key(line_id, kind, idempotency_key)
        target = (
            self._internal(InternalAccount.LOAN_LOSS_ALLOWANCE, row.currency)
            if recovery
            else row.account_id
        )
        # A recovery credits the bank's own allowance: only the platform may post that.
        result = self.banking.transfer(
            LENDING if recovery else _mover(actor), source, target, amount, idempotency_key=key,
            description="credit line recovery" if recovery else "credit line repayment",
        )  # fmt: skip
        self._book(line_id, kind, -amount.minor, result.entry_id, key)
        return self.line(actor, line_id)

    # -- bookkeeping after the ledger ----------------------------------------------------

    def _book(
        self,
        line_id: str,
        kind: str,
        amount_minor: int,
        entry_id: str,
        key: str,
        purchase_id: str | None = None,
        purchase_update: dict[str, Any] | None = None,
        day: date | None = None,
    ) -> bool:
        """Record one posted movement on the line (once per key). Returns False on a retry."""
        with self._tx() as session:
            return self._book_in(
                session, line_id, kind, amount_minor, entry_id, key, purchase_id,
                purchase_update, day,
            )  # fmt: skip

    def _book_in(
        self,
        session: Session,
        line_id: str,
        kind: str,
        amount_minor: int,
        entry_id: str,
        key: str,
        purchase_id: str | None = None,
        purchase_update: dict[str, Any] | None = None,
        day: date | None = None,
    ) -> bool:
        if session.execute(
            select(ActivityRow.id).where(ActivityRow.idempotency_key == key)
        ).first():
            return False
        line = self._lock_line(session, line_id)
        business_day = day or self.activity_date(session)
        cash_before, revolving_before = line.cash_minor, line.revolving_minor
        detail = apply_to_line(line, kind, amount_minor)
        if kind in ("payment", "refund"):
            self._apply_to_statements(session, line_id, -amount_minor)
        if purchase_update is not None and purchase_id is not None:
            purchase = session.get(PurchaseRow, purchase_id)
            assert purchase is not None
            if "captured_minor" in purchase_update:
                purchase.captured_minor = purchase_update["captured_minor"]
                purchase.status = purchase_update["status"]
            if "refunded_minor" in purchase_update:
                purchase.refunded_minor += purchase_update["refunded_minor"]
            if kind == "plan_refund":
                self.instalments.reduce(session, purchase_id, -amount_minor)
        session.add(
            ActivityRow(
                id=new_id(),
                line_id=line_id,
                business_date=business_day,
                kind=kind,
                amount_minor=amount_minor,
                entry_id=entry_id,
                idempotency_key=key,
                purchase_id=purchase_id,
                detail=detail,
                created_at=self.clock.now(),
                cash_delta_minor=line.cash_minor - cash_before,
                revolving_delta_minor=line.revolving_minor - revolving_before,
            )
        )
        session.flush()
        emit(
            session,
            Event(
                event_type="lending.line_activity",
                occurred_at=self.clock.now(),
                source="lending",
                subject_id=line.customer_id,
                payload={
                    "line_id": line_id,
                    "kind": kind,
                    "amount": str(Money.from_minor(amount_minor, line.currency).amount),
                    "currency": line.currency,
                    "business_date": business_day.isoformat(),
                    "entry_id": entry_id,
                },
            ).validated(),
        )
        return True

    def _book_many(
        self, session: Session, rows: list[tuple[str, str, int, str, str]], day: date
    ) -> int:
        """Book many posted movements (line, kind, amount, entry, key) in bulk statements;
        rows whose key is booked already are skipped. Returns how many were booked."""
        if not rows:
            return 0
        keys = [r[4] for r in rows]
        done = set(
            session.execute(
                select(ActivityRow.idempotency_key).where(ActivityRow.idempotency_key.in_(keys))
            ).scalars()
        )
        fresh = [r for r in rows if r[4] not in done]
        stmt = select(LineRow).where(LineRow.id.in_({r[0] for r in fresh}))
        if not is_sqlite(self.engine):
            stmt = stmt.with_for_update()
        lines = {x.id: x for x in session.execute(stmt).scalars()}
        now = self.clock.now()
        activity: list[dict[str, Any]] = []
        events: list[Event] = []
        for line_id, kind, amount, entry_id, key in fresh:
            line = lines[line_id]
            cash_before, revolving_before = line.cash_minor, line.revolving_minor
            detail = apply_to_line(line, kind, amount)
            activity.append({
                "id": new_id(), "line_id": line_id, "business_date": day, "kind": kind,
                "amount_minor": amount, "entry_id": entry_id, "idempotency_key": key,
                "purchase_id": None, "detail": detail, "created_at": now,
                "cash_delta_minor": line.cash_minor - cash_before,
                "revolving_delta_minor": line.revolving_minor - revolving_before,
            })  # fmt: skip
            events.append(
                Event(
                    event_type="lending.line_activity",
                    occurred_at=now,
                    source="lending",
                    subject_id=line.customer_id,
                    payload={
                        "line_id": line_id,
                        "kind": kind,
                        "amount": str(Money.from_minor(amount, line.currency).amount),
                        "currency": line.currency,
                        "business_date": day.isoformat(),
                        "entry_id": entry_id,
                    },
                )
            )
        if activity:
            session.execute(insert(ActivityRow), activity)
            emit_many(session, events)
        return len(activity)

    def _apply_to_statements(self, session: Session, line_id: str, paid: int) -> None:
        """Payments settle the oldest unpaid statements first (for grace and delinquency)."""
        rows = session.execute(
            select(StatementRow)
            .where(
                StatementRow.line_id == line_id,
                StatementRow.status.in_(("open", "overdue", "minimum_paid")),
            )
            .order_by(StatementRow.statement_date)
        ).scalars()
        left = paid
        for st in rows:
            if left <= 0:
                break
            take = min(left, st.closing_minor - st.converted_minor - st.paid_minor)
            st.paid_minor += take
            left -= take
            if st.paid_minor >= st.closing_minor - st.converted_minor:
                st.status = "paid"
            elif st.status == "overdue" and st.paid_minor >= st.minimum_due_minor:
                st.status = "minimum_paid"

    # -- statements ------------------------------------------------------------------------

    def statements(self, actor: Principal, line_id: str) -> list[Statement]:
        row = self._line_row(actor, line_id, "lending:read")
        with self._tx() as session:
            rows = session.execute(
                select(StatementRow)
                .where(StatementRow.line_id == line_id)
                .order_by(StatementRow.statement_date.desc())
            ).scalars()
            return [Statement.of(r, row.currency) for r in rows]

    def statement(self, actor: Principal, statement_id: str) -> Statement:
        with self._tx() as session:
            st = session.get(StatementRow, statement_id)
        if st is None:
            raise NotFound("no such statement", field="statement_id")
        row = self._line_row(actor, st.line_id, "lending:read")
        return Statement.of(st, row.currency)

    def reconcile(self, actor: Principal, statement_id: str) -> Reconciliation:
        """The statement's movement against the line account's ledger postings of the cycle."""
        st = self.statement(actor, statement_id)
        with self._tx() as session:
            entries = set(
                session.execute(
                    select(ActivityRow.entry_id).where(
                        ActivityRow.line_id == st.line_id,
                        ActivityRow.business_date > st.period_start - timedelta(days=1),
                        ActivityRow.business_date <= st.statement_date,
                        ActivityRow.kind != "recovery",  # recoveries post to the allowance
                    )
                ).scalars()
            )
        ledger = 0
        seen = 0
        cursor: str | None = None
        while True:
            page = self.banking.history(LENDING, st.line_id, limit=200, cursor=cursor)
            for item in page.items:
                if item.entry_id in entries:
                    ledger -= item.amount.minor
                    seen += 1
            if page.next_cursor is None:
                break
            cursor = page.next_cursor
        cur = st.closing.code
        return Reconciliation(
            statement_id, st.closing - st.opening, Money.from_minor(ledger, cur), seen
        )


def line_buckets(line: LineRow) -> Buckets:
    return Buckets(
        line.fees_minor, line.interest_minor, line.revolving_minor, line.cash_minor,
        line.purchases_minor, line.credit_minor, line.instalment_due_minor, line.instalment_minor,
    )  # fmt: skip


def apply_to_line(line: LineRow, kind: str, amount_minor: int) -> dict[str, Any]:
    """Move the line's buckets for one movement; returns how it was split (for the record)."""
    terms_order = waterfall(tuple(line.terms.get("waterfall") or ()))
    b = line_buckets(line)
    split: dict[str, int]
    if kind in ("purchase", "cash", "fee", "interest"):
        part = {"purchase": "purchases", "cash": "cash", "fee": "fees", "interest": "interest"}
        b, split = b.charge(part[kind], amount_minor), {part[kind]: amount_minor}
    elif kind == "payment":
        b, split = b.pay(-amount_minor, terms_order)
    elif kind == "refund":
        b, split = b.pay(-amount_minor, REFUND_ORDER)
    elif kind in ("settlement", "plan_refund"):  # unbilled instalment principal
        b, split = b.settle_instalment(-amount_minor), {"instalment": -amount_minor}
    elif kind == "charge_off":
        split = {"charged_off": -amount_minor}
        line.charged_off_minor += -amount_minor
        b = replace(Buckets(), credit=b.credit)
    elif kind == "recovery":
        split = {"recovered": -amount_minor}
        line.recovered_minor += -amount_minor
    else:  # pragma: no cover - kinds are the module's own
        raise ValueError(kind)
    if kind == "interest":
        line.accrued_micro -= amount_minor * 10**6  # billed: no longer accrued
    for column, value in b.as_columns().items():
        setattr(line, column, value)
    # The bank's own charges may take a line over its limit: recorded, never silent.
    line.over_limit_minor = max(0, b.owed - line.limit_minor)
    return {"split": split}
