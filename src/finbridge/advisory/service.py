"""The advisory engine's face for interfaces: profiles, the catalogue, suitability, evidence.

Scopes: operators need ``advisory:read`` to read and ``advisory:write`` to act for a customer;
a customer (or a third party under the customer's consent) acts only for itself, and another
customer's objects are "not found". Suitability is decided here, never in an interface, and
every decision is stored as evidence with a ``advisory.suitability_checked`` event.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, select

from finbridge.advisory import events as _events  # noqa: F401 - registers the event schemas
from finbridge.advisory.catalogue import Product, catalogue, product
from finbridge.advisory.orders import HistoryNavFeed, Holding, NavFeed, Order, OrderBook
from finbridge.advisory.ports import AuditPort, SecondFactorPort
from finbridge.advisory.questionnaire import (
    Questionnaire,
    assess,
    load_questionnaire,
    shipped_versions,
)
from finbridge.advisory.suitability import Outcome, Warning, highest_level, match
from finbridge.advisory.tables import ProfileRow, RebalancingChoiceRow, SuitabilityRow
from finbridge.banking import BankingService
from finbridge.core.clock import Clock, business_date
from finbridge.core.errors import (
    BusinessRuleViolation,
    FinbridgeError,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from finbridge.core.ids import new_id
from finbridge.core.money import Money
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.core.settings import AdvisorySettings, Settings
from finbridge.lake import Event, emit
from finbridge.store.engine import unit_of_work

if TYPE_CHECKING:
    from finbridge.advisory.plans import GoalPlan
    from finbridge.advisory.portfolios import Backtest, ModelReport
    from finbridge.advisory.rebalance import Proposal

CHANNELS = frozenset({"advisory", "acquisition", "open_banking", "console"})
ABOVE_LEVEL_ACTION = "advisory.above_level"
MODEL_PREFIX = "MODEL-"
_SYSTEM = Principal.system("advisory")
# The nightly job's own actor: its orders are told apart from the customer's in the book.
_AUTO = Principal.system("advisory-auto-rebalance")
CATALOGUE_CURRENCY = "USD"  # every fund in the catalogue is sold in US dollars

log = logging.getLogger(__name__)


class SuitabilityRefused(BusinessRuleViolation):
    """A purchase the suitability rule does not allow (the decision says why)."""

    code = "suitability_refused"
    title = "Not suitable for this investor"


@dataclass(frozen=True)
class Profile:
    id: str
    customer_id: str
    questionnaire_version: str
    score: int
    score_category: str
    category: str
    caps: tuple[str, ...]
    assessed_at: datetime
    expires_at: datetime
    expired: bool
    answers: dict[str, Any]

    @classmethod
    def of(cls, row: ProfileRow, now: datetime) -> Profile:
        expires = _aware(row.expires_at)
        return cls(
            row.id, row.customer_id, row.questionnaire_version, row.score, row.score_category,
            row.category, tuple(row.caps), _aware(row.assessed_at), expires, now >= expires,
            dict(row.answers),
        )  # fmt: skip


@dataclass(frozen=True)
class SuitabilityDecision:
    id: str  # the evidence record
    customer_id: str
    product_code: str
    product_level: str
    category: str | None
    outcome: str
    allowed: bool
    reasons: tuple[str, ...]
    warning: Warning | None
    confirmed: bool
    second_factor: bool
    channel: str
    actor_id: str
    created_at: datetime

    @classmethod
    def of(cls, row: SuitabilityRow, warning: Warning | None = None) -> SuitabilityDecision:
        if warning is None and row.warning_code and row.warning_text:
            warning = Warning(row.warning_code, row.warning_text, "")
        return cls(
            row.id, row.customer_id, row.product_code, row.product_level, row.category,
            row.outcome, row.allowed, tuple(row.reasons), warning, row.confirmed,
            row.second_factor, row.channel, row.actor_id, _aware(row.created_at),
        )  # fmt: skip


def _aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class AdvisoryService:
    """Robo-advice for one platform: profiling, suitability, catalogue (and, through
    :mod:`.portfolios` and :mod:`.plans`, model portfolios and goal plans)."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        banking: BankingService,
        second_factor: SecondFactorPort,
        config: AdvisorySettings | None = None,
        business_timezone: str = "Asia/Shanghai",
        nav_feed: NavFeed | None = None,
        audit: AuditPort | None = None,
    ) -> None:
        self.engine = engine
        self.audit = audit
        self.clock = clock
        self.banking = banking
        self.second_factor = second_factor
        self.config = config or AdvisorySettings()
        self.business_timezone = business_timezone
        self._models: ModelReport | None = None
        self._models_lock = threading.Lock()
        self.book = OrderBook(engine, clock, banking, nav_feed or HistoryNavFeed())

    @classmethod
    def build(
        cls,
        engine: Engine,
        clock: Clock,
        settings: Settings,
        *,
        banking: BankingService,
        second_factor: SecondFactorPort,
        audit: AuditPort | None = None,
    ) -> AdvisoryService:
        return cls(
            engine, clock, banking, second_factor, settings.advisory, settings.business_timezone,
            audit=audit,
        )  # fmt: skip

    # -- authorisation ------------------------------------------------------------------

    def _authorise(self, actor: Principal, customer_id: str, *, write: bool) -> str:
        if not isinstance(customer_id, str) or not customer_id.strip():
            raise ValidationError("customer_id is required", field="customer_id")
        if actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY):
            if not actor.can_act_for(customer_id):
                raise NotFound("no such customer", field="customer_id")
        else:
            actor.require_scope("advisory:write" if write else "advisory:read")
        self.banking.get_customer(_SYSTEM, customer_id)  # NotFound for an unknown customer
        return customer_id

    # -- questionnaire and profiles -----------------------------------------------------

    def questionnaire(self, version: str | None = None) -> Questionnaire:
        """A shipped questionnaire (public: it is what a customer fills in)."""
        return load_questionnaire(version)

    def questionnaire_versions(self) -> tuple[str, ...]:
        return shipped_versions()

    def submit_profile(
        self, actor: Principal, customer_id: str, answers: dict[str, Any], *,
        version: str | None = None,
    ) -> Profile:  # fmt: skip
        """Score ``answers`` and store them as the customer's live profile."""
        customer_id = self._authorise(actor, customer_id, write=True)
        questionnaire = load_questionnaire(version)
        result = assess(questionnaire, answers, max_age=self.config.max_age)
        now = self.clock.now()
        row = ProfileRow(
            id=new_id(), customer_id=customer_id, questionnaire_version=result.version,
            answers=dict(answers), score=result.score, score_category=result.score_category,
            category=result.category, caps=list(result.caps), actor_id=actor.id,
            assessed_at=now, expires_at=now + timedelta(days=self.config.profile_validity_days),
        )  # fmt: skip
        with unit_of_work(self.engine, write=True) as session:
            session.add(row)
            emit(
                session,
                Event(
                    event_type="advisory.profile_assessed", occurred_at=now, source="advisory",
                    subject_id=customer_id,
                    payload={
                        "profile_id": row.id, "questionnaire_version": result.version,
                        "score": result.score, "category": result.category,
                        "capped": bool(result.caps),
                    },
                ).validated(),
            )  # fmt: skip
            session.flush()
            return Profile.of(row, now)

    def _live_row(self, customer_id: str) -> ProfileRow | None:
        with unit_of_work(self.engine, write=False) as session:
            return session.scalars(
                select(ProfileRow)
                .where(ProfileRow.customer_id == customer_id)
                .order_by(ProfileRow.assessed_at.desc(), ProfileRow.id.desc())
                .limit(1)
            ).first()

    def profile(self, actor: Principal, customer_id: str) -> Profile:
        """The customer's newest profile (``expired`` says whether it still allows purchases)."""
        customer_id = self._authorise(actor, customer_id, write=False)
        row = self._live_row(customer_id)
        if row is None:
            raise NotFound("this customer has no risk profile", field="customer_id")
        return Profile.of(row, self.clock.now())

    # -- catalogue ----------------------------------------------------------------------

    def products(self, max_level: str | None = None) -> tuple[Product, ...]:
        """The catalogue (public), optionally only products up to ``max_level`` (R1..R5)."""
        if max_level is None:
            return catalogue()
        if max_level not in ("R1", "R2", "R3", "R4", "R5"):
            raise ValidationError("must be one of R1..R5", field="max_level")
        return tuple(p for p in catalogue() if p.risk_level <= max_level)

    def product(self, code: str) -> Product:
        return product(code)

    # -- suitability --------------------------------------------------------------------

    def check_suitability(
        self,
        actor: Principal,
        customer_id: str,
        product_code: str,
        *,
        warning_code: str | None = None,
        confirmed: bool = False,
        channel: str = "advisory",
    ) -> SuitabilityDecision:
        """Decide whether ``customer_id`` may buy ``product_code`` and store the evidence.

        The published check: acquisition and open banking call it before they offer or sell a
        product. Above the customer's level it answers ``warning_required`` with the warning
        to show; sent again with that ``warning_code`` and ``confirmed=True`` it asks identity
        for a fresh second factor (``StepUpRequired`` propagates, with its refusal recorded)
        and, with one, allows the purchase.
        """
        customer_id = self._authorise(actor, customer_id, write=True)
        if channel not in CHANNELS:
            raise ValidationError(f"must be one of {sorted(CHANNELS)}", field="channel")
        item = self._product_or_model(actor, product_code)
        row = self._live_row(customer_id)
        now = self.clock.now()
        decided = match(
            profile_id=row.id if row else None,
            category=row.category if row else None,
            expired=row is not None and now >= _aware(row.expires_at),
            product=item,
            warning_code=warning_code,
            confirmed=bool(confirmed),
        )
        outcome, reasons, second = decided.outcome, decided.reasons, False
        if decided.needs_second_factor:
            if actor.kind not in (PrincipalKind.CUSTOMER, PrincipalKind.SYSTEM):
                # The confirmation is the investor's own; staff or an app cannot give it.
                outcome = Outcome.WARNING_REQUIRED
                reasons = ("only the investor can confirm an above-level purchase",)
            else:
                from finbridge.core.errors import StepUpRequired

                try:
                    self.second_factor.require_step_up(actor, ABOVE_LEVEL_ACTION, demanded=True)
                    second = True
                except StepUpRequired:
                    self._record(
                        actor, customer_id, item, row, Outcome.WARNING_REQUIRED,
                        ("confirmed, but no fresh second factor",), decided.warning,
                        confirmed=True, second=False, channel=channel, now=now,
                    )  # fmt: skip
                    raise
        return self._record(
            actor, customer_id, item, row, outcome, reasons, decided.warning,
            confirmed=bool(confirmed) and decided.warning is not None, second=second,
            channel=channel, now=now,
        )  # fmt: skip

    def suitable_level(self, actor: Principal, customer_id: str) -> int:
        """The highest product level (1..5) the customer may be offered without a warning
        (0: no live profile). For engines that choose offers for many customers at once
        (acquisition): it reads the live profile and applies the suitability rule, storing no
        evidence, because an offer is not a purchase; the purchase itself is checked and
        recorded by :meth:`check_suitability`."""
        customer_id = self._authorise(actor, customer_id, write=False)
        row = self._live_row(customer_id)
        if row is None:
            return 0
        return highest_level(row.category, expired=self.clock.now() >= _aware(row.expires_at))

    def require_suitable(self, actor: Principal, customer_id: str, product_code: str,
                         **kw: Any) -> SuitabilityDecision:  # fmt: skip
        """:meth:`check_suitability`, raising :class:`SuitabilityRefused` unless allowed."""
        decision = self.check_suitability(actor, customer_id, product_code, **kw)
        if not decision.allowed:
            warning = decision.warning
            raise SuitabilityRefused(
                "; ".join(decision.reasons),
                field="product_code",
                outcome=decision.outcome,
                record_id=decision.id,
                **({"warning_code": warning.code, "warning": warning.text_en} if warning else {}),
            )
        return decision

    def _record(
        self, actor: Principal, customer_id: str, item: Product, profile: ProfileRow | None,
        outcome: Outcome, reasons: tuple[str, ...], warning: Warning | None, *,
        confirmed: bool, second: bool, channel: str, now: datetime,
    ) -> SuitabilityDecision:  # fmt: skip
        allowed = outcome in (Outcome.MATCH, Outcome.ABOVE_LEVEL_CONFIRMED)
        row = SuitabilityRow(
            id=new_id(), customer_id=customer_id, product_code=item.code,
            product_level=item.risk_level, profile_id=profile.id if profile else None,
            category=profile.category if profile else None, outcome=outcome.value,
            allowed=allowed, reasons=list(reasons),
            warning_code=warning.code if warning else None,
            warning_text=warning.text_en if warning else None, confirmed=confirmed,
            second_factor=second, channel=channel, actor_id=actor.id, created_at=now,
        )  # fmt: skip
        with unit_of_work(self.engine, write=True) as session:
            session.add(row)
            if self.audit is not None:  # the evidence and its audit line commit together
                self.audit.append(
                    session, actor=actor.id, action="advisory.suitability", subject=customer_id,
                    outcome=outcome.value,
                    detail={
                        "record_id": row.id, "product_code": item.code,
                        "product_level": item.risk_level, "category": row.category,
                        "warning_code": row.warning_code, "confirmed": confirmed,
                        "second_factor": second, "channel": channel,
                    },
                )  # fmt: skip
            emit(
                session,
                Event(
                    event_type="advisory.suitability_checked", occurred_at=now,
                    source="advisory", subject_id=customer_id,
                    payload={
                        "record_id": row.id, "product_code": item.code,
                        "product_level": item.risk_level, "category": row.category,
                        "outcome": row.outcome, "allowed": allowed, "channel": channel,
                    },
                ).validated(),
            )  # fmt: skip
            session.flush()
            return SuitabilityDecision.of(row, warning)

    def evidence(
        self,
        actor: Principal,
        *,
        customer_id: str | None = None,
        product_code: str | None = None,
        outcome: str | None = None,
        limit: int = 100,
    ) -> list[SuitabilityDecision]:
        """Stored suitability decisions, newest first; customers see only their own."""
        if actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY):
            customer_id = actor.customer_id
        else:
            actor.require_scope("advisory:read")
        if not 1 <= limit <= 500:
            raise ValidationError("must be between 1 and 500", field="limit")
        query = select(SuitabilityRow)
        if customer_id:
            query = query.where(SuitabilityRow.customer_id == customer_id)
        if product_code:
            query = query.where(SuitabilityRow.product_code == product_code)
        if outcome:
            query = query.where(SuitabilityRow.outcome == outcome)
        query = query.order_by(SuitabilityRow.created_at.desc(), SuitabilityRow.id.desc())
        with unit_of_work(self.engine, write=False) as session:
            return [SuitabilityDecision.of(r) for r in session.scalars(query.limit(limit))]

    # -- model portfolios, goal plans, the report ---------------------------------------

    def model_portfolios(self, actor: Principal) -> ModelReport:
        """C1..C5 models and the benchmarks, validated walk-forward (built once per process:
        they depend only on the shipped history; the first call takes seconds)."""
        if actor.kind not in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY):
            actor.require_scope("advisory:read")
        return self._built_models()

    def _built_models(self) -> ModelReport:
        with self._models_lock:
            if self._models is None:
                from finbridge.advisory.portfolios import build_models

                self._models = build_models(max_turnover=self.config.max_turnover)
            return self._models

    def warm(self, *, child_process: bool = False) -> None:
        """Build the model portfolios now (tens of seconds on a loaded machine): a served
        process calls this in the background at start, so no request pays for the walk-forward
        (one that comes in meanwhile waits for this build rather than starting a second).

        ``child_process``: build in a spawned process (what ``serve`` does), so this process's
        threads keep the GIL while it runs; a failure there falls back to building here."""
        if not child_process:
            self._built_models()
            return
        from finbridge.advisory._model_process import build_in_child

        with self._models_lock:
            if self._models is not None:
                return
            try:
                self._models = build_in_child(self.config.max_turnover)
            except Exception:
                log.exception("building the model portfolios in a child process failed")
        self._built_models()  # built above, or (after a failure) built here

    def use_models(self, report: ModelReport) -> None:
        """Install models built elsewhere (a smaller window in tests, a nightly job)."""
        with self._models_lock:
            self._models = report

    def report_html(self, actor: Principal) -> str:
        from finbridge.advisory.report import render_report

        return render_report(self.model_portfolios(actor))

    def plan(
        self, actor: Principal, customer_id: str, *, target: Money, target_date: date,
        initial: Money, monthly: Money,
    ) -> GoalPlan:  # fmt: skip
        """A goal plan on the model portfolio of the customer's live category."""
        from finbridge.advisory.plans import plan_goal
        from finbridge.advisory.portfolios import SPECS

        live = self.profile(actor, customer_id)
        if live.expired:
            raise BusinessRuleViolation(
                "the risk profile has expired: redo the questionnaire", field="profile"
            )
        model = self.model_portfolios(actor).model(live.category)
        spec = next(spec for spec in SPECS if spec.category == live.category)
        return plan_goal(
            category=live.category, weights=model.weights, why=spec.why, why_zh=spec.why_zh,
            target=target,
            target_date=target_date, initial=initial, monthly=monthly,
            today=business_date(self.clock.now(), self.business_timezone),
        )  # fmt: skip

    # -- orders and holdings ------------------------------------------------------------

    def _today(self) -> date:
        return business_date(self.clock.now(), self.business_timezone)

    def subscribe(
        self, actor: Principal, customer_id: str, *, account_id: str, product_code: str,
        amount: Money, idempotency_key: str, warning_code: str | None = None,
        confirmed: bool = False,
    ) -> Order:  # fmt: skip
        """Buy ``amount`` of a product: suitability first (recorded), then the cash moves."""
        customer_id = self._authorise(actor, customer_id, write=True)
        if not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 200:
            raise ValidationError("1 to 200 characters", field="idempotency_key")
        item = product(product_code)

        def suitable() -> str:
            return self.require_suitable(
                actor, customer_id, item.code, warning_code=warning_code, confirmed=confirmed
            ).id

        return self.book.subscribe(
            actor, customer_id, account_id, item, amount, idempotency_key=idempotency_key,
            today=self._today(), suitable=suitable,
        )  # fmt: skip

    def redeem(
        self, actor: Principal, customer_id: str, *, account_id: str, product_code: str,
        units: Decimal, idempotency_key: str,
    ) -> Order:  # fmt: skip
        """Sell units (no suitability check: selling lowers the risk held)."""
        customer_id = self._authorise(actor, customer_id, write=True)
        if not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 200:
            raise ValidationError("1 to 200 characters", field="idempotency_key")
        return self.book.redeem(
            actor, customer_id, account_id, product(product_code), units,
            idempotency_key=idempotency_key, today=self._today(),
        )  # fmt: skip

    def settle_due(self, actor: Principal, day: date | None = None) -> list[Order]:
        """Settle the orders whose day has come by ``day`` (default today; the close of
        business passes its own date). Operators and the bank's jobs only."""
        actor.require_scope("advisory:write")
        if actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY):
            raise PermissionDenied("settlement is run by the bank")
        return self.book.settle_due(day or self._today())

    def orders(self, actor: Principal, customer_id: str, limit: int = 100) -> list[Order]:
        customer_id = self._authorise(actor, customer_id, write=False)
        if not 1 <= limit <= 500:
            raise ValidationError("must be between 1 and 500", field="limit")
        return self.book.orders(customer_id, limit)

    def holdings(self, actor: Principal, customer_id: str) -> list[Holding]:
        customer_id = self._authorise(actor, customer_id, write=False)
        return self.book.holdings(customer_id, self._today())

    # -- rebalancing --------------------------------------------------------------------

    def rebalance_proposal(
        self, actor: Principal, customer_id: str, *, new_cash: Money | None = None,
        min_trade: Money | None = None,
    ) -> Proposal:  # fmt: skip
        """Trades that bring the customer's funds back to the model of their category."""
        from finbridge.advisory.rebalance import propose

        live = self.profile(actor, customer_id)
        if live.expired:
            raise BusinessRuleViolation(
                "the risk profile has expired: redo the questionnaire", field="profile"
            )
        target = self.model_portfolios(actor).model(live.category).weights
        total = sum(target.values())
        values = {h.product_code: h.value for h in self.holdings(actor, customer_id)}
        # Cash already paid for units not yet allotted counts as held: without it the next
        # proposal would buy the same fund again before the first order settles.
        for code, pending in self.book.pending_subscriptions(customer_id).items():
            values[code] = values.get(code, Money.of("0", pending.code)) + pending
        return propose(
            values, {c: w / total for c, w in target.items()},
            new_cash=new_cash or Money.of("0", "USD"),
            min_trade=min_trade or Money.of("50", "USD"),
        )  # fmt: skip

    def nightly_drift(self, actor: Principal) -> list[tuple[str, float]]:
        """Every profiled customer with holdings whose funds left their bands: (customer id,
        largest drift). One vectorised pass over all accounts (see :func:`drift_check`)."""
        import numpy as np

        from finbridge.advisory.rebalance import drift_check

        actor.require_scope("advisory:read")
        if actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY):
            raise PermissionDenied("the drift check is run by the bank")
        report = self.model_portfolios(actor)
        codes = [p.code for p in catalogue()]
        column = {c: i for i, c in enumerate(codes)}
        targets = np.zeros((5, len(codes)))
        for k, model in enumerate(report.models):
            for c, w in model.weights.items():
                targets[k, column[c]] = w
        targets /= targets.sum(axis=1, keepdims=True)
        customers, values = self.book.valued_positions(self._today(), column)
        if not customers:
            return []
        category_of = self._live_categories(customers)
        keep = [i for i, c in enumerate(customers) if c in category_of]
        if not keep:  # every holder's profile expired: nothing to check (an empty index is float)
            return []
        flags, drift = drift_check(
            values[keep], np.array([int(category_of[customers[i]][1]) - 1 for i in keep]),
            targets,
        )  # fmt: skip
        return [(customers[i], float(d)) for i, f, d in zip(keep, flags, drift, strict=True) if f]

    def _live_categories(self, customers: list[str]) -> dict[str, str]:
        """The live category of each of ``customers`` (those with an unexpired newest profile).
        One scan of the profiles' three columns, not ``IN (customers)``: PostgreSQL's protocol
        takes at most 65,535 parameters, and the nightly check covers 100,000 accounts."""
        now = self.clock.now()
        wanted = set(customers)
        query = select(ProfileRow.customer_id, ProfileRow.category, ProfileRow.expires_at).order_by(
            ProfileRow.assessed_at, ProfileRow.id
        )  # the same order as _live_row, read oldest first so the newest wins
        with unit_of_work(self.engine, write=False) as session:
            latest = {c: (cat, exp) for c, cat, exp in session.execute(query) if c in wanted}
        return {c: cat for c, (cat, exp) in latest.items() if now < _aware(exp)}

    def evaluate_model(self, actor: Principal, weights: dict[str, float]) -> Backtest:
        """Out-of-sample figures of a hand-made model (an adviser's or a customer's idea)."""
        from finbridge.advisory.portfolios import evaluate_weights

        if actor.kind not in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY):
            actor.require_scope("advisory:read")
        return evaluate_weights(weights)

    # -- model portfolios as products, accepting a rebalance ----------------------------

    def _product_or_model(self, actor: Principal, code: str) -> Product:
        """A catalogue product, or ``MODEL-C1``..``MODEL-C5``: a model portfolio is matched as
        a whole, at the level the catalogue's rule gives its out-of-sample history (a C3
        model may hold an R4 fund; the investor buys the R2 portfolio, not the fund)."""
        if not code.startswith(MODEL_PREFIX):
            return product(code)
        category = code.removeprefix(MODEL_PREFIX)
        if category not in ("C1", "C2", "C3", "C4", "C5"):
            raise NotFound(f"no product {code!r}", field="product_code")
        model = self.model_portfolios(actor).model(category)
        m = model.metrics
        return Product(
            code, f"{category} model portfolio ({model.method})", "model", "portfolio",
            m.risk_level, m.annual_volatility, m.max_drawdown, Money.of("100", "USD"),
            Decimal("0"), 2, False,
        )  # fmt: skip

    def accept_rebalance(
        self, actor: Principal, customer_id: str, *, account_id: str, new_cash: Money,
        idempotency_key: str,
    ) -> list[Order]:  # fmt: skip
        """Carry out the current proposal: the model is matched as a whole first (evidence),
        then one order per trade, each keyed ``<key>:<fund>`` so a retry repeats nothing. The
        buys must be covered by the account's available cash now (sales settle later). One
        ``advisory.rebalanced`` event per accepted proposal that placed orders (``automatic``
        when the nightly job's actor accepts it); a retry under the key emits nothing."""
        customer_id = self._authorise(actor, customer_id, write=True)
        if not isinstance(idempotency_key, str) or not 0 < len(idempotency_key) <= 150:
            raise ValidationError("1 to 150 characters", field="idempotency_key")
        placed = self.book.placed_under(actor, idempotency_key)
        if placed:
            return placed  # a retry: the proposal has moved since, the orders have not
        live = self.profile(actor, customer_id)
        proposal = self.rebalance_proposal(actor, customer_id, new_cash=new_cash)
        buys = [t for t in proposal.trades if t.side == "buy"]
        needed = sum((t.amount for t in buys), Money.of("0", new_cash.code))
        available = self.banking.balance(_SYSTEM, account_id).available
        if needed > available:
            raise ValidationError(
                f"the buys need {needed}, the account has {available}", field="account_id"
            )
        match = self.require_suitable(actor, customer_id, f"{MODEL_PREFIX}{live.category}")
        today = self._today()
        orders: list[Order] = []
        # Buys first: they are what moves money now, so a second factor the guard asks for
        # comes before anything is placed. A retry under the key returns what was placed; if
        # a later trade was refused, the next proposal (which counts pending orders) holds it.
        for trade in sorted(proposal.trades, key=lambda t: t.side != "buy"):
            item = product(trade.product_code)
            key = f"{idempotency_key}:{trade.side}:{item.code}"
            if trade.side == "sell":
                _day, nav = self.book.feed.nav_on_or_after(item.code, today)
                units = (trade.amount.amount / nav).quantize(Decimal("0.00000001"), ROUND_DOWN)
                held = {h.product_code: h.units for h in self.book.holdings(customer_id, today)}
                units = min(units, held.get(item.code, Decimal(0)))
                if units > 0:
                    orders.append(self.book.redeem(
                        actor, customer_id, account_id, item, units, idempotency_key=key,
                        today=today,
                    ))  # fmt: skip
            elif trade.amount >= item.minimum:
                orders.append(self.book.subscribe(
                    actor, customer_id, account_id, item, trade.amount, idempotency_key=key,
                    today=today, suitable=lambda: match.id,
                ))  # fmt: skip
        if orders:
            self._rebalanced(customer_id, automatic=actor.id == _AUTO.id, orders=len(orders),
                             drift=proposal.largest_drift)  # fmt: skip
        return orders

    # -- the customer's choice of automatic rebalancing, and the nightly job ---------------

    def rebalancing_choice(self, actor: Principal, customer_id: str) -> RebalancingChoice | None:
        """The customer's standing choice, or None (proposals only, accepted by hand)."""
        customer_id = self._authorise(actor, customer_id, write=False)
        with unit_of_work(self.engine, write=False) as session:
            row = session.get(RebalancingChoiceRow, customer_id)
            return RebalancingChoice.of(row) if row is not None else None

    def choose_rebalancing(
        self, actor: Principal, customer_id: str, *, account_id: str, automatic: bool
    ) -> RebalancingChoice:
        """Switch automatic rebalancing on (on ``account_id``) or off. Only the customer chooses:
        an operator or an app cannot opt somebody into trades."""
        customer_id = self._authorise(actor, customer_id, write=True)
        if actor.kind is not PrincipalKind.CUSTOMER:
            raise PermissionDenied("only the customer can choose automatic rebalancing")
        if not isinstance(automatic, bool):
            raise ValidationError("must be true or false", field="automatic")
        self.book.require_account(customer_id, account_id, CATALOGUE_CURRENCY)
        now = self.clock.now()
        with unit_of_work(self.engine, write=True) as session:
            row = session.get(RebalancingChoiceRow, customer_id, with_for_update=True)
            if row is None:
                row = RebalancingChoiceRow(customer_id=customer_id)
                session.add(row)
            row.account_id, row.automatic = account_id, automatic
            row.actor_id, row.updated_at = actor.id, now
            emit(
                session,
                Event(
                    event_type="advisory.rebalancing_chosen", occurred_at=now,
                    source="advisory", subject_id=customer_id,
                    payload={"account_id": account_id, "automatic": automatic},
                ).validated(),
            )  # fmt: skip
            session.flush()
            return RebalancingChoice.of(row)

    def rebalance_automatically(self, actor: Principal, day: date) -> AutoRebalanceRun:
        """The nightly job: every opted-in customer whose funds left their bands gets the
        current proposal carried out, keyed by the day so a rerun repeats nothing. A customer
        whose proposal cannot be carried out (not enough cash for the buys, an expired profile,
        a refusal) is skipped with the reason; the others go on."""
        actor.require_scope("advisory:write")
        if actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY):
            raise PermissionDenied("automatic rebalancing is run by the bank")
        with unit_of_work(self.engine, write=False) as session:
            chosen = {
                r.customer_id: r.account_id
                for r in session.scalars(
                    select(RebalancingChoiceRow).where(RebalancingChoiceRow.automatic)
                )
            }
        if not chosen:  # nobody opted in: no need to build the model portfolios
            return AutoRebalanceRun(0, 0, (), {})
        drifted = {c: d for c, d in self.nightly_drift(actor) if c in chosen}
        done: list[str] = []
        skipped: dict[str, str] = {}
        for customer_id in sorted(drifted):
            key = f"auto-rebalance:{day.isoformat()}:{customer_id}"
            try:  # accept_rebalance emits advisory.rebalanced (automatic: the job's actor)
                self.accept_rebalance(
                    _AUTO, customer_id, account_id=chosen[customer_id],
                    new_cash=Money.zero(CATALOGUE_CURRENCY), idempotency_key=key,
                )  # fmt: skip
            except FinbridgeError as exc:
                skipped[customer_id] = str(exc)
                continue
            done.append(customer_id)
        return AutoRebalanceRun(len(chosen), len(drifted), tuple(done), skipped)

    def _rebalanced(self, customer_id: str, *, automatic: bool, orders: int, drift: float) -> None:
        with unit_of_work(self.engine, write=True) as session:
            emit(
                session,
                Event(
                    event_type="advisory.rebalanced", occurred_at=self.clock.now(),
                    source="advisory", subject_id=customer_id,
                    payload={"automatic": automatic, "orders": orders,
                             "largest_drift": round(drift, 6)},
                ).validated(),
            )  # fmt: skip


@dataclass(frozen=True)
class RebalancingChoice:
    customer_id: str
    account_id: str
    automatic: bool
    updated_at: datetime

    @classmethod
    def of(cls, row: RebalancingChoiceRow) -> RebalancingChoice:
        return cls(row.customer_id, row.account_id, row.automatic, _aware(row.updated_at))


@dataclass(frozen=True)
class AutoRebalanceRun:
    """What one night's automatic rebalancing did."""

    opted_in: int
    drifted: int
    rebalanced: tuple[str, ...]
    skipped: dict[str, str]  # customer id -> why
