"""The acquisition engine's face: profiles, offers, creatives, campaigns, deliveries, results.

Scopes: ``acquisition:read`` (profiles, campaigns, results), ``acquisition:write`` (refresh,
creatives, campaigns, scheduling, delivery, conversions). A customer sees their own profile,
offers and inbox, opens their messages and opts out; anyone else's is "not found".

Consent is checked here, at every use: refreshing profiles (a customer without marketing consent
has no profile; one who withdrew loses it at the next refresh and is never read before), reading
a profile, scheduling, and again at delivery time, so a withdrawal between scheduling and sending
stops the message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, bindparam, delete, func, insert, literal, select, update
from sqlalchemy.orm import Session

from finbridge.acquisition import events as _events
from finbridge.acquisition.audience import AudienceRule
from finbridge.acquisition.campaigns import (
    CampaignSpec,
    Lift,
    Schedule,
    in_holdout,
    in_quiet,
    local_send_time,
    out_of_quiet,
    parse_hhmm,
    utc_instant,
    zone,
)
from finbridge.acquisition.catalog import PRODUCTS, Product, product
from finbridge.acquisition.creatives import CreativeTemplates, PushMessage, deep_link, push_of
from finbridge.acquisition.engagement import subjects_between, sums_of, sums_since
from finbridge.acquisition.news import headlines_for
from finbridge.acquisition.population import (
    Population,
    load_population,
    pack_minutes,
    pack_week,
    unpack_minutes,
    unpack_week,
)
from finbridge.acquisition.ports import (
    MARKETING,
    ConsentPort,
    CreditDecisionPort,
    InboxMessage,
    InboxPort,
    NoConsent,
    NoCreditDecision,
    NoInbox,
    NoPortfolio,
    PortfolioPort,
    PortfolioSummary,
    SuitabilityPort,
    UpToR1,
)
from finbridge.acquisition.profiles import KINDS as PROFILE_EVENT_TYPES
from finbridge.acquisition.profiles import (
    ProfileState,
    merge_into,
    observed,
    states_from_sums,
)
from finbridge.acquisition.registry import LoadedModels, ModelRegistry, ModelVersion, registry_dir
from finbridge.acquisition.scoring import ContactHistory, response_inputs, uplift_inputs
from finbridge.acquisition.sendtime import population_prior, shrunk_day
from finbridge.acquisition.spending import Spending, spending_of
from finbridge.acquisition.tables import (
    CampaignRow,
    CreativeRow,
    DeliveryRow,
    OptOutRow,
    PreferenceRow,
    ProfileRow,
)
from finbridge.core.clock import Clock
from finbridge.core.errors import NotFound, PermissionDenied, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.core.settings import Settings
from finbridge.lake import Event, EventLake, emit, emit_driver
from finbridge.store.engine import unit_of_work

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _PersonScores:
    """One customer's scores from the live stored models."""

    version: str
    factor: float  # predicted uplift over the experiment's average person
    response: float
    reasons: list[str]


class MarketingConsentRequired(PermissionDenied):
    code = "consent_required"
    title = "Customer consent required"


@dataclass(frozen=True)
class Profile:
    customer_id: str
    as_of: datetime
    timezone: str
    fields: dict[str, Any]
    topics: dict[str, float]
    engagement_by_hour: list[float]  # 24, summed over the week
    stored: bool  # False for a point-in-time read computed on the fly


@dataclass(frozen=True)
class Recipient:
    """What a creative needs to know about the person it is rendered for."""

    timezone: str
    locale: str
    top_topic: str


@dataclass(frozen=True)
class Offer:
    code: str
    name: str
    risk_level: int
    expected_uplift: float
    value: Decimal
    score: float
    reason: str
    response: float | None = None  # calibrated probability of a yes (the stored model)
    model_version: str | None = None


@dataclass(frozen=True)
class Creative:
    id: str
    name: str
    version: int
    templates: dict[str, dict[str, str]]
    fields: tuple[str, ...]
    created_at: datetime


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    audience: str
    offer_code: str | None
    creative_name: str
    creative_version: int
    schedule: dict[str, Any]
    quiet_hours: tuple[str, str]
    cap_per_day: int
    cap_per_week: int
    holdout_share: float
    status: str
    created_at: datetime

    @classmethod
    def of(cls, row: CampaignRow) -> Campaign:
        return cls(
            row.id,
            row.name,
            row.audience,
            row.offer_code,
            row.creative_name,
            row.creative_version,
            row.schedule,
            (row.quiet_start, row.quiet_end),
            row.cap_per_day,
            row.cap_per_week,
            row.holdout_share,
            row.status,
            row.created_at,
        )


@dataclass(frozen=True)
class Delivery:
    id: str
    campaign_id: str
    customer_id: str
    day: date
    arm: str
    status: str
    reason: str | None
    scheduled_at: datetime
    delivered_at: datetime | None
    title: str | None
    body: str | None
    opened_at: datetime | None

    def push(self) -> PushMessage | None:
        """The delivered message's push form (None until it is delivered)."""
        if self.title is None or self.body is None:
            return None
        return push_of(self.title, self.body, self.id)

    @classmethod
    def of(cls, r: DeliveryRow) -> Delivery:
        return cls(
            r.id,
            r.campaign_id,
            r.customer_id,
            r.day,
            r.arm,
            r.status,
            r.reason,
            _aware(r.scheduled_at),
            _utc(r.delivered_at),
            r.title,
            r.body,
            _utc(r.opened_at),
        )


@dataclass
class ScheduleReport:
    campaign_id: str
    day: date
    scheduled: int = 0
    holdout: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int
    suppressed: dict[str, int]


@dataclass(frozen=True)
class CampaignResults:
    campaign: Campaign
    lift: Lift
    delivered: int
    opened: int
    qini_points: list[tuple[float, float]]


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored instant is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else _aware(value)


class AcquisitionService:
    """One per platform (:meth:`build`); ports default to the safe answers (see :mod:`.ports`)."""

    DELIVERY_BATCH = 20_000  # messages per inbox batch and per delivery transaction

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        lake: EventLake,
        *,
        timezone: str = "Asia/Shanghai",
        locale: str = "zh-CN",
        quiet_hours: tuple[str, str] = ("22:00", "07:00"),
        consent: ConsentPort | None = None,
        suitability: SuitabilityPort | None = None,
        credit: CreditDecisionPort | None = None,
        inbox: InboxPort | None = None,
        portfolio: PortfolioPort | None = None,
        models: ModelRegistry | None = None,
    ) -> None:
        zone(timezone)
        self.engine, self.clock, self.lake = engine, clock, lake
        self.timezone, self.locale, self.quiet_hours = timezone, locale, quiet_hours
        self.consent: ConsentPort = consent or NoConsent()
        self.suitability: SuitabilityPort = suitability or UpToR1()
        self.credit: CreditDecisionPort = credit or NoCreditDecision()
        self.inbox_port: InboxPort = inbox or NoInbox()
        self.portfolio: PortfolioPort = portfolio or NoPortfolio()
        self.models = models
        self._refresh_lock = threading.Lock()

    @classmethod
    def build(
        cls, engine: Engine, clock: Clock, settings: Settings, *, lake: EventLake, **ports: Any
    ) -> AcquisitionService:
        conf = settings.acquisition
        return cls(
            engine,
            clock,
            lake,
            timezone=conf.timezone or settings.business_timezone,
            locale=conf.locale,
            quiet_hours=(conf.quiet_start, conf.quiet_end),
            models=ModelRegistry(registry_dir(settings.data_dir)),
            **ports,
        )

    # -- authorisation ------------------------------------------------------------------

    @staticmethod
    def _may_see(actor: Principal, customer_id: str, scope: str = "acquisition:read") -> None:
        if actor.kind in (PrincipalKind.CUSTOMER, PrincipalKind.THIRD_PARTY):
            if not actor.can_act_for(customer_id):
                raise NotFound(f"no customer {customer_id}", field="customer_id")
            return
        actor.require_scope(scope)

    def _require_consent(self, customer_id: str) -> None:
        if customer_id not in self.consent.consented([customer_id], MARKETING):
            raise MarketingConsentRequired(
                "the customer has not consented to marketing use of their data", field="consent"
            )

    # -- profiles -----------------------------------------------------------------------

    def refresh_profiles(self, actor: Principal, *, as_of: datetime | None = None) -> int:
        """Bring every consenting customer's profile to ``as_of`` (default now), incrementally;
        drop the profiles of customers whose consent no longer holds. Returns profiles kept."""
        actor.require_scope("acquisition:write")
        as_of = as_of or self.clock.now()
        with self._refresh_lock, unit_of_work(self.engine) as session:
            # Locked: the stream consumer updates these rows too (``observe_events``).
            locked = select(ProfileRow).with_for_update()
            stored = {r.customer_id: r for r in session.scalars(locked)}
            states = {k: _state_of(r) for k, r in stored.items()}
            behind = [s for s in states.values() if s.as_of > as_of]
            if behind:
                raise ValidationError("as_of is before the stored profiles' time", field="as_of")
            low = min((s.as_of for s in states.values()), default=None)
            subjects = subjects_between(self.lake, low, as_of) | stored.keys()
            allowed = self.consent.consented(subjects, MARKETING)
            gone = stored.keys() - allowed
            if gone:
                session.execute(delete(ProfileRow).where(ProfileRow.customer_id.in_(gone)))
            fresh: dict[str, ProfileState] = {}
            zones = self._zones(session)
            # A stored profile kept in another zone than the customer's (they set theirs since)
            # is rebuilt from their history: its hour slots are local hours of the old zone.
            known = [
                s
                for s in allowed
                if s in stored and states[s].timezone == zones.get(s, self.timezone)
            ]
            if known:
                # Each stored profile takes only the events after its own as_of: one query
                # (the engine joins each customer's instant), then one placing per time zone.
                sums = sums_since(self.lake, {k: states[k].as_of for k in known}, as_of, low=low)
                by_zone: dict[str, list[str]] = {}
                for k in known:
                    by_zone.setdefault(states[k].timezone, []).append(k)
                for tz, members in by_zone.items():
                    fresh.update(states_from_sums(sums, as_of, tz, members))
            new = allowed - set(known)
            if new:
                fresh.update(self._rebuilt(new, zones, as_of))
            merged = merge_into({k: states[k] for k in known}, fresh, as_of)
            now = self.clock.now()
            # Spending RFM as of the same instant, one Ibis query for everyone refreshed.
            spends = spending_of(self.lake, as_of, merged.keys())
            for subject, state in merged.items():
                values = _row_values(subject, state, now)
                values.update(
                    spending=_spending_json(spends.get(subject, [])), spending_as_of=as_of
                )
                if subject in stored:
                    for key, value in values.items():
                        setattr(stored[subject], key, value)
                else:
                    session.add(ProfileRow(**values))
        return len(merged)

    def _zones(self, session: Any, customer_ids: Collection[str] | None = None) -> dict[str, str]:
        """The time zones customers set (:meth:`set_timezone`); others have the bank's."""
        stmt = select(PreferenceRow.customer_id, PreferenceRow.timezone)
        if customer_ids is not None:
            stmt = stmt.where(PreferenceRow.customer_id.in_(list(customer_ids)))
        return {c: tz for c, tz in session.execute(stmt)}

    def _rebuilt(
        self, subjects: Collection[str], zones: dict[str, str], as_of: datetime
    ) -> dict[str, ProfileState]:
        """Profiles built from the whole history before ``as_of``, each in its customer's
        zone (one build per zone, not per customer)."""
        history = sums_of(self.lake, subjects, as_of)
        by_zone: dict[str, list[str]] = {}
        for subject in subjects:
            by_zone.setdefault(zones.get(subject, self.timezone), []).append(subject)
        out: dict[str, ProfileState] = {}
        for tz, members in by_zone.items():
            out.update(states_from_sums(history, as_of, tz, members))
            # A customer with no events in the window keeps a profile, now in the new zone.
            out.update({m: ProfileState(as_of, tz) for m in members if m not in out})
        return out

    def set_timezone(self, actor: Principal, customer_id: str, timezone: str) -> str:
        """The customer's own time zone (an IANA name such as ``Europe/London``): their quiet
        hours, send times and local day are read in it. A stored profile is rebuilt in the new
        zone at once (same ``as_of``). Returns the zone."""
        self._may_see(actor, customer_id, "acquisition:write")
        if not 1 <= len(customer_id) <= 64:
            raise ValidationError("customer_id must be 1-64 characters", field="customer_id")
        if not isinstance(timezone, str) or len(timezone) > 64:
            raise ValidationError("timezone must be an IANA time zone name", field="timezone")
        zone(timezone)
        now = self.clock.now()
        with self._refresh_lock, unit_of_work(self.engine) as session:
            pref = session.get(PreferenceRow, customer_id)
            if pref is None:
                session.add(
                    PreferenceRow(customer_id=customer_id, timezone=timezone, updated_at=now)
                )
            else:
                pref.timezone, pref.updated_at = timezone, now
            locked = select(ProfileRow).where(ProfileRow.customer_id == customer_id)
            row = session.scalars(locked.with_for_update()).first()
            if row is not None and row.timezone != timezone:
                as_of = _aware(row.as_of)
                state = self._rebuilt([customer_id], {customer_id: timezone}, as_of)[customer_id]
                state.locale = row.locale
                for key, value in _row_values(customer_id, state, now).items():
                    setattr(row, key, value)
        return timezone

    def timezone_of(self, actor: Principal, customer_id: str) -> str:
        """The zone this customer's messages are timed in (theirs, else the bank's)."""
        self._may_see(actor, customer_id)
        with unit_of_work(self.engine, write=False) as session:
            return self._zones(session, [customer_id]).get(customer_id, self.timezone)

    def observe_events(self, actor: Principal, session: Session, events: Sequence[Event]) -> int:
        """Add streamed engagement events to the stored profiles of consenting customers, in
        ``session``'s transaction (the stream's ``acquisition-profiles`` consumer keeps its
        ledger there, so an event is added once). A customer without a stored profile waits
        for :meth:`refresh_profiles`, which reads their whole history; one who withdrew consent
        is not updated (and loses the profile at the next refresh). Returns profiles updated."""
        actor.require_scope("acquisition:write")
        mine = [e for e in events if e.event_type in PROFILE_EVENT_TYPES and e.subject_id]
        if not mine:
            return 0
        allowed = self.consent.consented({str(e.subject_id) for e in mine}, MARKETING)
        if not allowed:
            return 0
        now = self.clock.now()
        updated = 0
        # Row locks, not ``_refresh_lock``: the caller's transaction already holds SQLite's
        # write lock, and a refresh takes the two in the other order.
        stmt = select(ProfileRow).where(ProfileRow.customer_id.in_(allowed)).with_for_update()
        for row in session.scalars(stmt):
            state = observed(_state_of(row), row.customer_id, mine)
            if state is None:
                continue
            for key, value in _row_values(row.customer_id, state, now).items():
                setattr(row, key, value)
            updated += 1
        return updated

    def profile(
        self, actor: Principal, customer_id: str, *, as_of: datetime | None = None
    ) -> Profile:
        """The stored profile, or (``as_of`` given) one computed from what was known before
        that instant: engagement and spending from the lake's events before it, and the other
        engines' fields as of it too (the balance of the postings before it, the newest credit
        score before it, the investor level if the assessment in force then is still known;
        ``None`` where it is not)."""
        self._may_see(actor, customer_id)
        self._require_consent(customer_id)
        if as_of is not None:
            if as_of.tzinfo is None:
                raise ValidationError("as_of needs a time zone", field="as_of")
            with unit_of_work(self.engine, write=False) as session:
                zones = self._zones(session, [customer_id])
            state = self._rebuilt([customer_id], zones, as_of)[customer_id]
            state.locale = self.locale
            spends = spending_of(self.lake, as_of, [customer_id]).get(customer_id, [])
            return self._with_ports(
                _profile(customer_id, state, stored=False), _spending_json(spends), as_of
            )
        with unit_of_work(self.engine, write=False) as session:
            row = session.get(ProfileRow, customer_id)
        if row is None:
            raise NotFound(
                f"no profile for {customer_id} yet (refresh profiles)", field="customer_id"
            )
        profile = _profile(customer_id, _state_of(row), stored=True)
        if row.spending is None:  # kept before profiles carried their RFM: read it now
            spending = _spending_json(
                spending_of(self.lake, profile.as_of, [customer_id]).get(customer_id, [])
            )
            spent_as_of = profile.as_of
        else:
            spending, spent_as_of = row.spending, _aware(row.spending_as_of or row.as_of)
        profile = replace(
            profile, fields={**profile.fields, "spending_as_of": spent_as_of.isoformat()}
        )
        return self._with_ports(profile, spending, None)

    def _with_ports(
        self, profile: Profile, spending: dict[str, Any], as_of: datetime | None
    ) -> Profile:
        """The profile with its spending RFM (per currency: recency in days from the profile's
        instant, frequency and decimal monetary of the :data:`RFM_WINDOW_DAYS` before it) and
        the fields other engines answer through the ports: now for the current profile, as of
        ``as_of`` for a point-in-time one."""
        rfm = {
            currency: {
                "recency_days": round(
                    (profile.as_of - datetime.fromisoformat(s["last_spend"])).total_seconds()
                    / 86_400,
                    4,
                ),
                "frequency": s["frequency"],
                "monetary": s["monetary"],
            }
            for currency, s in spending.items()
        }
        who = profile.customer_id
        if as_of is None:
            level: int | None = int(self._risk_level(who))
        else:
            level = self.suitability.level_as_of(who, as_of)
        summary = self.portfolio.summary(who, as_of=as_of)
        fields = {
            **profile.fields,
            "spending": rfm,
            "investor_level": level,
            "credit_approved": self.credit.approved(who, as_of=as_of),
            "balance": (
                {"currency": summary.currency, "total": str(summary.total),
                 "accounts": summary.accounts}
                if summary else None
            ),
        }  # fmt: skip
        return replace(profile, fields=fields)

    def _states(self, customer_ids: Collection[str] | None = None) -> dict[str, ProfileState]:
        stmt = select(ProfileRow)
        if customer_ids is not None:
            stmt = stmt.where(ProfileRow.customer_id.in_(list(customer_ids)))
        with unit_of_work(self.engine, write=False) as session:
            return {r.customer_id: _state_of(r) for r in session.scalars(stmt)}

    def _recipients(
        self, customer_ids: Collection[str], *, topics: bool = True
    ) -> dict[str, Recipient]:
        """Zone, language and top interest of these customers (all profiles are read and
        filtered here: an IN list of 100,000 ids is more than SQLite binds)."""
        wanted = set(customer_ids)
        columns: list[Any] = [ProfileRow.customer_id, ProfileRow.timezone, ProfileRow.locale]
        stmt = select(*columns, ProfileRow.topics if topics else literal(None))
        if len(wanted) <= 500:
            stmt = stmt.where(ProfileRow.customer_id.in_(sorted(wanted)))
        with unit_of_work(self.engine, write=False) as session:
            rows = session.execute(stmt).all()
        return {
            r[0]: Recipient(r[1], r[2], max(r[3], key=lambda k: r[3][k]) if r[3] else "")
            for r in rows
            if r[0] in wanted
        }

    # -- offers -------------------------------------------------------------------------

    def check_offer(self, actor: Principal, customer_id: str, offer_code: str) -> Product:
        """Refuse an offer the customer may not get (suitability, or a credit line without an
        approving credit decision), naming ``offer_code``."""
        self._may_see(actor, customer_id)
        item = product(offer_code)
        if not self.suitability.allows(customer_id, item.risk_level):
            raise ValidationError(
                f"{item.code} (R{item.risk_level}) is above the customer's suitability",
                field="offer_code",
            )
        if item.kind == "credit" and not self.credit.approved(customer_id):
            raise ValidationError(
                "a credit offer needs an approving credit decision", field="offer_code"
            )
        return item

    def offers(self, actor: Principal, customer_id: str, *, limit: int = 3) -> list[Offer]:
        """Next-best offers: eligible products ranked by expected uplift x value, with reasons.

        A product's base uplift is its measured campaign lift when a campaign with at least 200
        people per arm has one, else the catalogue prior. The live stored uplift model scales
        it to this person (their predicted uplift over the experiment's average, 0-3x; inputs
        in :mod:`.scoring`), and a news interest in the product's topic raises it (x (1 +
        share of interest)). The live response model adds the calibrated probability of a yes
        and the features that raise it most.
        """
        self._may_see(actor, customer_id)
        self._require_consent(customer_id)
        with unit_of_work(self.engine, write=False) as session:
            row = session.get(ProfileRow, customer_id)
        state = _state_of(row) if row is not None else None
        topics = state.topics if state else {}
        total = sum(topics.values())
        person = self._person_scores(customer_id, row, state)
        measured = self._measured_uplift()
        out = []
        for item in PRODUCTS:
            if not self.suitability.allows(customer_id, item.risk_level):
                continue
            if item.kind == "credit" and not self.credit.approved(customer_id):
                continue
            base, source = measured.get(item.code, (item.prior_uplift, "catalogue prior"))
            interest = topics.get(item.topic, 0.0) / total if total else 0.0
            factor = person.factor if person else 1.0
            uplift = base * factor * (1 + interest)
            score = uplift * float(item.value)
            reason = f"within R{item.risk_level}; uplift {uplift:.2%} = {base:.2%} ({source})"
            if person is not None:
                reason += f" x {factor:.2f} for this person (uplift model {person.version})"
            if interest:
                reason += f", reads about {item.topic} ({interest:.0%} of news reads)"
            if person is not None:
                reason += f"; response {person.response:.1%}"
                if person.reasons:
                    reason += f" (raised by {', '.join(person.reasons)})"
            out.append(
                Offer(
                    item.code,
                    item.name_en,
                    item.risk_level,
                    round(uplift, 5),
                    item.value,
                    round(score, 5),
                    reason,
                    round(person.response, 4) if person else None,
                    person.version if person else None,
                )
            )
        out.sort(key=lambda o: -o.score)
        return out[:limit]

    def live_models(self) -> LoadedModels | None:
        """The newest stored models, or None before any were trained (or when they cannot be
        read: logged, and offers fall back to the catalogue's priors)."""
        if self.models is None:
            return None
        try:
            return self.models.load()
        except NotFound:
            return None
        except (ValidationError, ValueError, KeyError, OSError):
            _log.exception("the stored acquisition models could not be loaded")
            return None

    def _person_scores(
        self, customer_id: str, row: ProfileRow | None, state: ProfileState | None
    ) -> _PersonScores | None:
        models = self.live_models()
        if models is None:
            return None
        recency: float | None = None
        if row is not None and row.spending:
            last = max(datetime.fromisoformat(s["last_spend"]) for s in row.spending.values())
            recency = (_aware(row.as_of) - last).total_seconds() / 86_400
        channel = state.fields()["channel_preference"] if state else "none"
        factor = float(models.person_factor(uplift_inputs(recency, channel))[0])
        tz = row.timezone if row is not None else self.timezone
        now = self.clock.now()
        inputs = response_inputs(
            models.response.features_, _local_day(now, tz), self._contacts(customer_id, now)
        )
        reasons = [name for name, _ in models.response.reasons(inputs)[0]]
        response = float(models.response.predict_proba(inputs)[0])
        return _PersonScores(models.version.version, factor, response, reasons)

    def _contacts(self, customer_id: str, now: datetime) -> ContactHistory:
        """Our campaigns' history with the customer: one grouped read of their deliveries."""
        recent_from = now - timedelta(days=30)
        stmt = select(
            func.count().filter(DeliveryRow.delivered_at >= recent_from),
            func.count().filter(DeliveryRow.delivered_at < recent_from),
            func.max(DeliveryRow.delivered_at),
            func.count(DeliveryRow.converted_at),
        ).where(
            DeliveryRow.customer_id == customer_id,
            DeliveryRow.status == "delivered",
            DeliveryRow.delivered_at < now,
        )
        with unit_of_work(self.engine, write=False) as session:
            recent, earlier, last, converted = session.execute(stmt).one()
        since = -1 if last is None else (now - _aware(last)).days
        return ContactHistory(int(recent), int(earlier), since, bool(converted))

    def model_versions(self, actor: Principal) -> list[ModelVersion]:
        """Every stored version of the response and uplift models, newest (live) first."""
        actor.require_scope("acquisition:read")
        return self.models.versions() if self.models is not None else []

    def train_models(self, actor: Principal, bank_full: Path, hillstrom: Path) -> ModelVersion:
        """Fit both models on these files and store them as the next (live) version."""
        actor.require_scope("acquisition:write")
        if self.models is None:
            raise ValidationError("this service has no model registry", field="models")
        return self.models.train(bank_full, hillstrom, now=self.clock.now())

    def _measured_uplift(self) -> dict[str, tuple[float, str]]:
        out: dict[str, tuple[float, str]] = {}
        with unit_of_work(self.engine, write=False) as session:
            rows = session.scalars(
                select(CampaignRow).where(CampaignRow.offer_code.is_not(None))
            ).all()
        for row in rows:
            lift = self._lift(row.id)
            if lift.lift is not None and min(lift.treated, lift.holdout) >= 200 and row.offer_code:
                out[row.offer_code] = (max(lift.lift, 0.0), f"measured in {row.name}")
        return out

    # -- creatives ----------------------------------------------------------------------

    def save_creative(self, actor: Principal, name: str, templates: Any) -> Creative:
        """A new version of creative ``name``; a template naming an unknown field is refused."""
        actor.require_scope("acquisition:write")
        if not isinstance(name, str) or not 1 <= len(name) <= 80:
            raise ValidationError("name must be 1-80 characters", field="name")
        parsed = CreativeTemplates.parse(templates)
        with unit_of_work(self.engine) as session:
            latest = session.scalar(
                select(func.max(CreativeRow.version)).where(CreativeRow.name == name)
            )
            row = CreativeRow(
                id=new_id(),
                name=name,
                version=(latest or 0) + 1,
                templates=parsed.templates,
                fields=list(parsed.fields),
                created_by=actor.id,
                created_at=self.clock.now(),
            )
            session.add(row)
        return _creative(row)

    def creatives(self, actor: Principal) -> list[Creative]:
        actor.require_scope("acquisition:read")
        with unit_of_work(self.engine, write=False) as session:
            rows = session.scalars(
                select(CreativeRow).order_by(CreativeRow.name, CreativeRow.version)
            )
            return [_creative(r) for r in rows]

    def _creative_row(self, session: Any, name: str, version: int | None) -> CreativeRow:
        stmt = select(CreativeRow).where(CreativeRow.name == name)
        stmt = (
            stmt.where(CreativeRow.version == version)
            if version
            else stmt.order_by(CreativeRow.version.desc())
        )
        row = session.scalars(stmt.limit(1)).first()
        if row is None:
            raise NotFound(
                f"no creative {name!r}" + (f" version {version}" if version else ""),
                field="creative",
            )
        return row

    def preview(
        self,
        actor: Principal,
        name: str,
        *,
        version: int | None = None,
        customer_id: str | None = None,
        offer_code: str | None = None,
        locale: str | None = None,
    ) -> tuple[str, str]:
        """Render a creative as it would be sent now (to ``customer_id``, or a sample)."""
        actor.require_scope("acquisition:read")
        with unit_of_work(self.engine, write=False) as session:
            row = self._creative_row(session, name, version)
            templates = CreativeTemplates(row.templates, tuple(row.fields))
        who = None
        if customer_id is not None:
            self._require_consent(customer_id)
            who = self._recipients([customer_id]).get(customer_id)
        values = self._values(
            customer_id, who, self.clock.now(), product(offer_code) if offer_code else None
        )
        return templates.render(locale or (who.locale if who else self.locale), values)

    def _values(
        self,
        customer_id: str | None,
        who: Recipient | None,
        now: datetime,
        offer: Product | None,
        *,
        portfolio: bool = True,
    ) -> dict[str, str]:
        local_day = _local_day(now, who.timezone if who else self.timezone)
        news_day, headlines = headlines_for(local_day)
        padded = [*headlines, "", "", ""][:3]
        summary: PortfolioSummary | None = None
        if portfolio and customer_id is not None:
            summary = self.portfolio.summary(customer_id)
        locale = who.locale if who else self.locale
        return {
            "date": local_day.isoformat(),
            "headline_1": padded[0],
            "headline_2": padded[1],
            "headline_3": padded[2],
            "headline_date": news_day.isoformat() if news_day else "-",
            "portfolio_total": f"{summary.total:,.2f}" if summary else "-",
            "portfolio_change": f"{summary.change:+,.2f}" if summary else "-",
            "currency": summary.currency if summary else "",
            "offer_name": (offer.name_zh if locale == "zh-CN" else offer.name_en) if offer else "",
            "top_topic": who.top_topic if who else "",
        }

    # -- campaigns ----------------------------------------------------------------------

    def create_campaign(self, actor: Principal, raw: dict[str, Any]) -> Campaign:
        """Validate everything up front (rule, holdout, schedule vs quiet hours, creative and
        offer), then store; nothing is sent until :meth:`schedule`."""
        actor.require_scope("acquisition:write")
        spec = CampaignSpec.parse(raw, quiet=self.quiet_hours)
        AudienceRule(spec.audience)
        offer = product(spec.offer_code) if spec.offer_code else None
        with unit_of_work(self.engine) as session:
            creative = self._creative_row(session, spec.creative_name, spec.creative_version)
            if "offer_name" in creative.fields and offer is None:
                raise ValidationError(
                    "the creative shows ${offer_name} but the campaign has no offer",
                    field="offer_code",
                )
            if session.scalar(select(CampaignRow.id).where(CampaignRow.name == spec.name)):
                raise ValidationError(f"a campaign named {spec.name!r} exists", field="name")
            row = CampaignRow(
                id=new_id(),
                name=spec.name,
                audience=spec.audience,
                offer_code=spec.offer_code,
                creative_name=creative.name,
                creative_version=creative.version,
                schedule=spec.schedule.to_json(),
                quiet_start=spec.quiet_start.strftime("%H:%M"),
                quiet_end=spec.quiet_end.strftime("%H:%M"),
                cap_per_day=spec.cap_per_day,
                cap_per_week=spec.cap_per_week,
                holdout_share=spec.holdout_share,
                status="active",
                created_by=actor.id,
                created_at=self.clock.now(),
            )
            session.add(row)
            payload = {"campaign_id": row.id, "name": row.name, "holdout_share": row.holdout_share}
            emit(
                session,
                Event(
                    "acquisition.campaign_saved", row.created_at, payload, _events.SOURCE, row.id
                ),
            )
        return Campaign.of(row)

    def campaigns(self, actor: Principal) -> list[Campaign]:
        actor.require_scope("acquisition:read")
        with unit_of_work(self.engine, write=False) as session:
            return [
                Campaign.of(r)
                for r in session.scalars(
                    select(CampaignRow).order_by(CampaignRow.created_at.desc())
                )
            ]

    def campaign(self, actor: Principal, campaign_id: str) -> Campaign:
        actor.require_scope("acquisition:read")
        with unit_of_work(self.engine, write=False) as session:
            return Campaign.of(self._campaign_row(session, campaign_id))

    @staticmethod
    def _campaign_row(session: Any, campaign_id: str) -> CampaignRow:
        row = session.get(CampaignRow, campaign_id)
        if row is None:
            raise NotFound(f"no campaign {campaign_id}", field="campaign_id")
        return row  # type: ignore[no-any-return]

    def audience_size(self, actor: Principal, rule: str) -> dict[str, int]:
        """How many consenting customers with a profile the rule selects (the builder's count)."""
        actor.require_scope("acquisition:read")
        parsed = AudienceRule(rule)
        pop = load_population(self.engine, fields=parsed.symbols)
        allowed = self.consent.consented(pop.ids, MARKETING)
        matched = parsed.mask(self._columns(pop, parsed.symbols), len(pop))
        consenting = np.array([c in allowed for c in pop.ids], dtype=bool)
        return {
            "profiles": len(pop),
            "consenting": int(consenting.sum()),
            "matching": int((matched & consenting).sum()),
        }

    def _columns(self, pop: Population, symbols: set[str]) -> dict[str, np.ndarray]:
        """Audience columns; the suitability level and the balance cost a call per customer, so
        they are asked for only when the rule names them."""
        columns = pop.columns()
        if "risk_level" in symbols:
            columns["risk_level"] = np.array([self._risk_level(c) for c in pop.ids], dtype=float)
        if "balance" in symbols:
            columns["balance"] = np.array([self._balance(c) for c in pop.ids], dtype=float)
        return columns

    def _risk_level(self, customer_id: str) -> float:
        levels = [lv for lv in range(1, 6) if self.suitability.allows(customer_id, lv)]
        return float(max(levels, default=0))

    def _balance(self, customer_id: str) -> float:
        summary = self.portfolio.summary(customer_id)
        return float(summary.total) if summary else 0.0

    def _suits(self, customer_id: str, offer: Product) -> bool:
        if not self.suitability.allows(customer_id, offer.risk_level):
            return False
        return offer.kind != "credit" or self.credit.approved(customer_id)

    def opt_out(self, actor: Principal, customer_id: str, campaign_id: str = "*") -> None:
        """The customer stops receiving ``campaign_id`` (``*``: every campaign), at once."""
        self._may_see(actor, customer_id, "acquisition:write")
        with unit_of_work(self.engine) as session:
            if campaign_id != "*":
                self._campaign_row(session, campaign_id)
            if session.get(OptOutRow, (customer_id, campaign_id)) is None:
                session.add(
                    OptOutRow(
                        customer_id=customer_id,
                        campaign_id=campaign_id,
                        created_at=self.clock.now(),
                    )
                )

    def _opted_out(self, session: Any, campaign_id: str, customer_ids: Iterable[str]) -> set[str]:
        """Those of ``customer_ids`` opted out of this campaign or of all: a few ids are looked
        up, a campaign's thousands are matched against one read of the campaign's opt-outs."""
        ids = set(customer_ids)
        stmt = select(OptOutRow.customer_id).where(OptOutRow.campaign_id.in_([campaign_id, "*"]))
        if len(ids) <= _ID_CHUNK:
            stmt = stmt.where(OptOutRow.customer_id.in_(sorted(ids)))
        return set(session.scalars(stmt)) & ids

    # -- scheduling and delivery --------------------------------------------------------

    def schedule(self, actor: Principal, campaign_id: str, day: date) -> ScheduleReport:
        """Plan ``day`` (the customers' local date): who is in the audience, consents, is not
        opted out, is under the caps and suits the offer; when (fixed or their send time, out of
        quiet hours); and which arm. Idempotent per (campaign, customer, day)."""
        actor.require_scope("acquisition:write")
        report = ScheduleReport(campaign_id, day)
        with unit_of_work(self.engine, write=False) as session:
            camp = self._campaign_row(session, campaign_id)
        if camp.status != "active":
            raise ValidationError(f"campaign is {camp.status}", field="campaign_id")
        spec_quiet = (camp.quiet_start, camp.quiet_end)
        sched = Schedule.parse(camp.schedule)
        q_start, q_end = (
            parse_hhmm(spec_quiet[0], "quiet_start"),
            parse_hhmm(spec_quiet[1], "quiet_end"),
        )
        rule = AudienceRule(camp.audience)
        offer = product(camp.offer_code) if camp.offer_code else None
        pop = load_population(self.engine, fields=rule.symbols)
        allowed = self.consent.consented(pop.ids, MARKETING)
        with unit_of_work(self.engine, write=False) as session:
            opted = self._opted_out(session, campaign_id, allowed)
            existing = set(
                session.scalars(
                    select(DeliveryRow.customer_id).where(
                        DeliveryRow.campaign_id == campaign_id, DeliveryRow.day == day
                    )
                )
            )
            per_day, per_week = self._contact_counts(session, day)
        matched = rule.mask(self._columns(pop, rule.symbols), len(pop))
        chosen: list[tuple[int, bool]] = []
        for i, customer_id in enumerate(pop.ids):
            reason = None
            if customer_id not in allowed:
                reason = "no_consent"
            elif customer_id in existing:
                reason = "already_scheduled"
            elif customer_id in opted:
                reason = "opted_out"
            elif not matched[i]:
                reason = "not_in_audience"
            elif offer is not None and not self._suits(customer_id, offer):
                reason = "offer_not_suitable"
            if reason is not None:
                report.skip(reason)
                continue
            holdout = in_holdout(campaign_id, customer_id, camp.holdout_share)
            if not holdout and (
                per_day.get(customer_id, 0) >= camp.cap_per_day
                or per_week.get(customer_id, 0) >= camp.cap_per_week
            ):
                report.skip("frequency_cap")
                continue
            chosen.append((i, holdout))
        rows: list[dict[str, Any]] = []
        idx = np.array([i for i, _ in chosen], dtype=np.int64)
        if sched.at is None and len(idx):
            # Each person's best hour on this weekday, from the twice-shrunk 168-slot profile.
            prior = population_prior(pop.engagement.sum(axis=0))
            hours = shrunk_day(pop.engagement[idx], prior, day.weekday()).argmax(axis=1)
            minutes = pop.first_minute[idx, hours]
        for k, (i, holdout) in enumerate(chosen):
            if sched.at is not None:
                at = sched.at
            else:
                at = local_send_time(int(hours[k]), int(minutes[k]), day, sched.lead_minutes)
                at = out_of_quiet(at, q_start, q_end, sched.lead_minutes)
            rows.append(
                {
                    "id": new_id(),
                    "campaign_id": campaign_id,
                    "customer_id": pop.ids[i],
                    "day": day,
                    "arm": "holdout" if holdout else "treatment",
                    "status": "holdout" if holdout else "scheduled",
                    "scheduled_at": utc_instant(day, at, zone(pop.timezone[i])),
                }  # the outcome columns start empty (NULL)
            )
            if holdout:
                report.holdout += 1
            else:
                report.scheduled += 1
        if rows:
            with unit_of_work(self.engine) as session:
                # Core executemany: no ORM objects for 100,000 rows.
                session.execute(insert(_DELIVERIES), rows)
        return report

    def _contact_counts(self, session: Any, day: date) -> tuple[dict[str, int], dict[str, int]]:
        stmt = (
            select(DeliveryRow.customer_id, DeliveryRow.day, func.count())
            .where(
                DeliveryRow.arm == "treatment",
                DeliveryRow.status.in_(["scheduled", "delivered"]),
                DeliveryRow.day > day - timedelta(days=7),
                DeliveryRow.day <= day,
            )
            .group_by(DeliveryRow.customer_id, DeliveryRow.day)
        )
        per_day: dict[str, int] = {}
        per_week: dict[str, int] = {}
        for customer_id, when, n in session.execute(stmt):
            per_week[customer_id] = per_week.get(customer_id, 0) + n
            if when == day:
                per_day[customer_id] = n
        return per_day, per_week

    def deliver_due(self, actor: Principal, *, now: datetime | None = None) -> DeliveryReport:
        """Send every scheduled message that is due: consent and opt-outs are checked again
        now, the creative is filled with this morning's live data. In batches of
        :attr:`DELIVERY_BATCH`: the batch goes to the inbox port first (idempotent per delivery
        id), then its rows and ``acquisition.delivered`` events are written in one transaction,
        so a crash between the two sends that batch again without doubling a message."""
        actor.require_scope("acquisition:write")
        now = now or self.clock.now()
        with unit_of_work(self.engine, write=False) as session:
            due = session.execute(
                select(DeliveryRow.id, DeliveryRow.campaign_id, DeliveryRow.customer_id).where(
                    DeliveryRow.status == "scheduled", DeliveryRow.scheduled_at <= now
                )
            ).all()
            camps = {c: self._campaign_row(session, c) for c in {r.campaign_id for r in due}}
            creatives = {
                c: self._creative_row(session, row.creative_name, row.creative_version)
                for c, row in camps.items()
            }
            opted = {
                c: self._opted_out(session, c, [r.customer_id for r in due if r.campaign_id == c])
                for c in camps
            }
        allowed = self.consent.consented({r.customer_id for r in due}, MARKETING)
        plans = {c: _Plan.of(camps[c], creatives[c]) for c in camps}
        topics = any("top_topic" in p.templates.fields for p in plans.values())
        recipients = self._recipients({r.customer_id for r in due}, topics=topics)
        suppressed: dict[str, int] = {}
        delivered = 0
        for first in range(0, len(due), self.DELIVERY_BATCH):
            changes: list[dict[str, Any]] = []
            sent: list[InboxMessage] = []
            sent_for: list[str] = []  # each sent message's campaign
            for row in due[first : first + self.DELIVERY_BATCH]:
                plan = plans[row.campaign_id]
                who = recipients.get(row.customer_id)
                reason = None
                if row.customer_id not in allowed:
                    reason = "no_consent"
                elif row.customer_id in opted[row.campaign_id]:
                    reason = "opted_out"
                elif plan.quiet(now, who, self.timezone):
                    reason = "quiet_hours"  # planned late and now night where they live: never
                if reason is not None:
                    suppressed[reason] = suppressed.get(reason, 0) + 1
                    changes.append({"id": row.id, "status": "suppressed", "reason": reason})
                    continue
                values = self._values(
                    row.customer_id, who, now, plan.offer, portfolio=plan.portfolio
                )
                title, body = plan.templates.render(who.locale if who else self.locale, values)
                changes.append(
                    {
                        "id": row.id,
                        "status": "delivered",
                        "delivered_at": now,
                        "title": title,
                        "body": body,
                    }
                )
                sent.append(InboxMessage(row.customer_id, title, body, row.id, deep_link(row.id)))
                sent_for.append(row.campaign_id)
            self.inbox_port.deliver_many(sent)
            with unit_of_work(self.engine) as session:
                if changes:
                    _update_deliveries(session, changes)
                # The outbox through the driver (lake's fast path): the SQLAlchemy layer's
                # per-row parameter handling was the batch's largest cost.
                conn = session.connection()
                emit_driver(
                    conn.connection.cursor(),
                    conn.dialect,
                    *(
                        Event(
                            "acquisition.delivered",
                            now,
                            {
                                "delivery_id": m.reference,
                                "campaign_id": camp_id,
                                "creative": _creative_ref(camps[camp_id]),
                                "offer_code": camps[camp_id].offer_code,
                            },
                            _events.SOURCE,
                            m.customer_id,
                        )
                        for m, camp_id in zip(sent, sent_for, strict=True)
                    ),
                )
            delivered += len(sent)
        return DeliveryReport(delivered, suppressed)

    # -- inbox, opens, conversions, results ------------------------------------------------

    def inbox(self, actor: Principal, customer_id: str, *, limit: int = 50) -> list[Delivery]:
        self._may_see(actor, customer_id)
        with unit_of_work(self.engine, write=False) as session:
            rows = session.scalars(
                select(DeliveryRow)
                .where(DeliveryRow.customer_id == customer_id, DeliveryRow.status == "delivered")
                .order_by(DeliveryRow.delivered_at.desc())
                .limit(min(max(limit, 1), 200))
            )
            return [Delivery.of(r) for r in rows]

    def deliveries(self, actor: Principal, campaign_id: str, *, limit: int = 100) -> list[Delivery]:
        actor.require_scope("acquisition:read")
        with unit_of_work(self.engine, write=False) as session:
            self._campaign_row(session, campaign_id)
            rows = session.scalars(
                select(DeliveryRow)
                .where(DeliveryRow.campaign_id == campaign_id)
                .order_by(DeliveryRow.scheduled_at.desc())
                .limit(min(max(limit, 1), 1000))
            )
            return [Delivery.of(r) for r in rows]

    def open(self, actor: Principal, delivery_id: str) -> Delivery:
        """The customer opened a message (their own only)."""
        with unit_of_work(self.engine) as session:
            row = session.get(DeliveryRow, delivery_id)
            if row is None or row.status != "delivered" or not actor.can_act_for(row.customer_id):
                raise NotFound(f"no delivery {delivery_id}", field="delivery_id")
            self._may_see(actor, row.customer_id, "acquisition:write")
            if row.opened_at is None:
                row.opened_at = self.clock.now()
                payload = {"delivery_id": row.id, "campaign_id": row.campaign_id}
                emit(
                    session,
                    Event(
                        "acquisition.opened",
                        row.opened_at,
                        payload,
                        _events.SOURCE,
                        row.customer_id,
                    ),
                )
            return Delivery.of(row)

    def record_conversion(self, actor: Principal, campaign_id: str, customer_id: str) -> str:
        """The customer took the campaign's offer: marks their latest row in either arm."""
        actor.require_scope("acquisition:write")
        now = self.clock.now()
        with unit_of_work(self.engine) as session:
            camp = self._campaign_row(session, campaign_id)
            row = session.scalars(
                select(DeliveryRow)
                .where(
                    DeliveryRow.campaign_id == campaign_id,
                    DeliveryRow.customer_id == customer_id,
                    DeliveryRow.status.in_(["delivered", "holdout"]),
                )
                .order_by(DeliveryRow.day.desc())
                .limit(1)
            ).first()
            if row is None:
                raise NotFound(
                    f"customer {customer_id} was not in campaign {campaign_id}", field="customer_id"
                )
            if row.converted_at is None:
                row.converted_at = now
                payload = {
                    "campaign_id": campaign_id,
                    "arm": row.arm,
                    "offer_code": camp.offer_code,
                }
                emit(
                    session,
                    Event("acquisition.converted", now, payload, _events.SOURCE, customer_id),
                )
            return row.arm

    def _per_customer(self, campaign_id: str) -> list[tuple[str, str, bool, bool]]:
        """(customer, arm, reached, converted) per customer: treated customers count once
        delivered, held-out ones from their first holdout row."""
        stmt = select(
            DeliveryRow.customer_id, DeliveryRow.arm, DeliveryRow.status, DeliveryRow.converted_at
        ).where(
            DeliveryRow.campaign_id == campaign_id, DeliveryRow.status.in_(["delivered", "holdout"])
        )
        seen: dict[str, tuple[str, bool, bool]] = {}
        with unit_of_work(self.engine, write=False) as session:
            for customer_id, arm, _status, converted in session.execute(stmt):
                old = seen.get(customer_id, (arm, True, False))
                seen[customer_id] = (arm, True, old[2] or converted is not None)
        return [(k, a, r, c) for k, (a, r, c) in seen.items()]

    def _lift(self, campaign_id: str) -> Lift:
        people = self._per_customer(campaign_id)
        nt = sum(1 for p in people if p[1] == "treatment")
        ct = sum(1 for p in people if p[1] == "treatment" and p[3])
        nh = sum(1 for p in people if p[1] == "holdout")
        ch = sum(1 for p in people if p[1] == "holdout" and p[3])
        return Lift.measure(nt, ct, nh, ch)

    def results(self, actor: Principal, campaign_id: str) -> CampaignResults:
        """Measured lift (treated vs permanent holdout, 95 % interval) and a Qini curve of the
        campaign's people ordered by their engagement (does targeting the engaged pay?)."""
        from finbridge.acquisition.uplift import qini_curve

        camp = self.campaign(actor, campaign_id)
        people = self._per_customer(campaign_id)
        with unit_of_work(self.engine, write=False) as session:
            counts = dict(
                session.execute(
                    select(DeliveryRow.status, func.count())
                    .where(DeliveryRow.campaign_id == campaign_id)
                    .group_by(DeliveryRow.status)
                ).all()
            )
            opened = (
                session.scalar(
                    select(func.count()).where(
                        DeliveryRow.campaign_id == campaign_id, DeliveryRow.opened_at.is_not(None)
                    )
                )
                or 0
            )
        points: list[tuple[float, float]] = []
        if people:
            states = self._states([p[0] for p in people])
            score = np.array(
                [float(states[p[0]].engagement.sum()) if p[0] in states else 0.0 for p in people]
            )
            t = np.array([p[1] == "treatment" for p in people], dtype=np.int8)
            y = np.array([p[3] for p in people], dtype=np.int8)
            curve = qini_curve(score, t, y)
            idx = np.unique(np.linspace(0, len(curve.share) - 1, 21).round().astype(int))
            points = [
                (round(float(curve.share[i]), 4), round(float(curve.gain[i]), 6)) for i in idx
            ]
        return CampaignResults(
            camp, self._lift(campaign_id), int(counts.get("delivered", 0)), int(opened), points
        )


# -- row <-> state ----------------------------------------------------------------------


def _state_of(row: ProfileRow) -> ProfileState:
    return ProfileState(
        _aware(row.as_of),
        row.timezone,
        row.locale,
        unpack_week(row.engagement),
        unpack_minutes(row.first_minute),
        dict(row.counts),
        dict(row.topics),
    )


def _row_values(customer_id: str, s: ProfileState, now: datetime) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "as_of": s.as_of,
        "timezone": s.timezone,
        "locale": s.locale,
        "engagement": pack_week(s.engagement),
        "first_minute": pack_minutes(s.first_minute),
        "counts": {k: round(v, 6) for k, v in s.counts.items()},
        "topics": {k: round(v, 6) for k, v in s.topics.items()},
        "updated_at": now,
    }


def _spending_json(spends: Sequence[Spending]) -> dict[str, Any]:
    """RFM per currency as the profile row keeps it (instants ISO, money a decimal string)."""
    return {
        s.currency: {
            "last_spend": s.last_spend.isoformat(),
            "frequency": s.frequency,
            "monetary": str(s.monetary),
        }
        for s in spends
    }


def _profile(customer_id: str, s: ProfileState, *, stored: bool) -> Profile:
    daily = s.engagement.reshape(7, 24).sum(axis=0)
    return Profile(
        customer_id,
        s.as_of,
        s.timezone,
        s.fields(),
        {k: round(v, 4) for k, v in s.topics.items()},
        [round(float(v), 4) for v in daily],
        stored,
    )


def _creative(row: CreativeRow) -> Creative:
    return Creative(
        row.id,
        row.name,
        row.version,
        row.templates,
        tuple(row.fields),
        _aware(row.created_at),
    )


def _creative_ref(camp: CampaignRow) -> str:
    return f"{camp.creative_name}@{camp.creative_version}"


_DELIVERIES: Any = DeliveryRow.__table__


@dataclass(frozen=True)
class _Plan:
    """What delivering one campaign needs, worked out once per run (not per message)."""

    templates: CreativeTemplates
    offer: Product | None
    portfolio: bool  # the creative shows balances: ask the portfolio port
    quiet_hours: tuple[time, time]

    def quiet(self, now: datetime, who: Recipient | None, default_zone: str) -> bool:
        local = now.astimezone(zone(who.timezone if who else default_zone)).time()
        return in_quiet(local, *self.quiet_hours)

    @classmethod
    def of(cls, camp: CampaignRow, creative: CreativeRow) -> _Plan:
        fields = tuple(creative.fields)
        return cls(
            CreativeTemplates(creative.templates, fields),
            product(camp.offer_code) if camp.offer_code else None,
            any(f.startswith("portfolio") or f == "currency" for f in fields),
            (parse_hhmm(camp.quiet_start, "quiet_start"), parse_hhmm(camp.quiet_end, "quiet_end")),
        )


@lru_cache(maxsize=256)
def _local_day(now: datetime, timezone: str) -> date:
    return now.astimezone(zone(timezone)).date()


def _update_deliveries(session: Any, changes: list[dict[str, Any]]) -> None:
    """Write a batch's outcomes: rows given the same values (one suppression reason, or one
    message rendered alike for everyone of a language and local day) share one statement that
    carries the values once; rows with values of their own get one executemany per shape."""
    table = _DELIVERIES
    alike: dict[tuple[tuple[str, Any], ...], list[str]] = {}
    for change in changes:
        values = tuple(sorted((k, v) for k, v in change.items() if k != "id"))
        alike.setdefault(values, []).append(change["id"])
    single: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for values, ids in alike.items():
        if len(ids) == 1:
            shape = tuple(k for k, _ in values)
            single.setdefault(shape, []).append({"b_id": ids[0]} | {f"b_{k}": v for k, v in values})
            continue
        # The shared values are bound once in the statement; each row passes only its id.
        stmt = update(table).where(table.c.id == bindparam("b_id")).values(dict(values))
        session.execute(stmt, [{"b_id": i} for i in ids])
    for shape, params in single.items():
        bound: dict[str, Any] = {k: bindparam(f"b_{k}") for k in shape}
        stmt = update(table).where(table.c.id == bindparam("b_id")).values(**bound)
        session.execute(stmt, params)


_ID_CHUNK = 5000  # ids per IN list: well under SQLite's and PostgreSQL's bound-parameter limits
