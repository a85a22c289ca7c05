"""The decision engine: one call per event -> approve / review / step_up / decline.

Order of work for one event: parse and check the request; return the stored decision if this
event id was already decided (idempotent); read the lists; update and read the velocity windows;
score with the ML model; evaluate the live rule set (and the shadow one, if any, on the very same
features); combine; then store the decision, emit ``risk.decision`` and open a review case, all
in one transaction.

When the velocity store is unavailable the engine does not guess: it returns the configured safe
outcome, says so in the reasons and marks the decision ``degraded``. A flood from one entity is
declined with the reason. Events later than the allowed lateness are refused with a clear error.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from finbridge.core.clock import Clock
from finbridge.core.errors import Conflict, FinbridgeError, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal
from finbridge.lake import Event
from finbridge.risk.decisions._decision import Decision, ShadowResult
from finbridge.risk.decisions._port import DecisionStore, DuplicateEvent, Writes
from finbridge.risk.decisions._requests import DecisionRequest, DecisionRequestModel, parse_request
from finbridge.risk.decisions._velocity import (
    EntityFlood,
    VelocityEvent,
    VelocityStore,
    VelocityUnavailable,
)
from finbridge.risk.events import SOURCE
from finbridge.risk.rules._derived import derive
from finbridge.risk.rules._lists import ListEntry, ListService
from finbridge.risk.rules._spec import (
    OUTCOMES,
    CompiledRuleSet,
    FeatureCatalog,
    RuleOutcome,
    default_rule_set,
    severity,
)
from finbridge.risk.rules._stored import RuleSetService

log = logging.getLogger("finbridge.risk")


class Scorer(Protocol):
    """An ML model as the engine sees it (see :mod:`finbridge.risk.models._fraud`)."""

    version: str

    def score(self, features: Mapping[str, float]) -> float: ...


class DelayedFeatures(Protocol):
    """Features known only after a feedback delay (e.g. terminal fraud rates from labels)."""

    def lookup(self, request: DecisionRequest) -> dict[str, float]: ...


@dataclass(frozen=True, slots=True)
class _Pending:
    """A decision made but not yet stored, with the rows that will store it."""

    decision: Decision
    writes: Writes


@dataclass(slots=True)
class _Draft:
    """An event checked and its features read, waiting for its score (alone or in a batch)."""

    req: DecisionRequest
    event_id: str
    features: dict[str, Any]
    degraded: str | None
    flood: str | None
    hits: list[ListEntry]

    @property
    def healthy(self) -> bool:
        return self.degraded is None and self.flood is None


# One decision waiting in the loop's micro-batch: who asks, what, and where its answer goes.
_Ask = tuple[Principal, "Mapping[str, Any] | DecisionRequestModel", "asyncio.Future[Decision]"]


@dataclass
class DecisionOptions:
    safe_outcome: str = "step_up"  # what a degraded decision returns (velocity store down)
    max_future_skew: timedelta = timedelta(minutes=5)
    rules_refresh_s: float = 2.0
    business_timezone: str = "Asia/Shanghai"
    case_sla: timedelta = timedelta(hours=4)
    urgent_case_sla: timedelta = timedelta(hours=1)


class ChampionSource(Protocol):
    """Which models every process should score with (the model registry's pointers)."""

    def champion(self) -> str | None:
        """The live version; ``""``: rules only; None: nothing promoted (keep your own)."""
        ...

    def shadow(self) -> str | None:
        """The shadow version; ``""``: none; None: never set (keep your own)."""
        ...

    def load(self, version: str) -> Scorer: ...


class DecisionMaker:
    """Makes and stores decisions; built once per platform by :class:`RiskService`."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        velocity: VelocityStore,
        store: DecisionStore,
        *,
        model: Scorer | None = None,
        delayed: DelayedFeatures | None = None,
        options: DecisionOptions | None = None,
    ) -> None:
        self.engine = engine  # the database engine: rule sets, lists and events live there
        self.clock = clock
        self.velocity = velocity
        self.store = store
        self.model = model
        self.delayed = delayed
        self.options = options or DecisionOptions()
        if self.options.safe_outcome not in OUTCOMES:
            raise ValueError(f"safe_outcome must be one of {OUTCOMES}")
        self.catalog = FeatureCatalog.standard(velocity.config.feature_names())
        if model is not None:
            self.catalog.numeric |= set(getattr(model, "feature_names", ()))
        self.rule_sets = RuleSetService(engine, clock, self.catalog)
        self.lists = ListService(engine, clock)
        self._tz = ZoneInfo(self.options.business_timezone)
        self._builtin = CompiledRuleSet(default_rule_set(), self.catalog, version=0)
        self._live: CompiledRuleSet = self._builtin
        self._shadow: CompiledRuleSet | None = None
        self._shadow_model: Scorer | None = None
        self._seen: tuple[str | None, str | None] = (None, None)
        self._checked_at = -1e9
        self._lock = threading.Lock()
        self._champion: ChampionSource | None = None
        self._unloadable: str | None = None  # a pointed-at version that failed to load
        self._unloadable_shadow: str | None = None
        # Each running loop's current turn of decisions (see decide_async); keyed by loop so
        # two loops in two threads (a test client's and a server's) never share a batch.
        self._turns: dict[asyncio.AbstractEventLoop, list[_Ask]] = {}

    # -- rule sets --------------------------------------------------------------------------
    def refresh_rules(self, *, force: bool = False) -> None:
        """Pick up a promoted rule set without a restart (checked every few seconds)."""
        if not force and time.monotonic() - self._checked_at < self.options.rules_refresh_s:
            return
        with self._lock:
            ids = self.rule_sets.running_ids()
            seen = (ids.get("active"), ids.get("shadow"))
            if seen != self._seen:
                live = self.rule_sets.compiled("active")
                self._live = live or self._builtin
                self._shadow = self.rule_sets.compiled("shadow")
                self._seen = seen
            self._follow_champion()
            self._checked_at = time.monotonic()

    def follow_champion(self, source: ChampionSource | None) -> None:
        """Score with the models ``source`` points at (live and shadow), checked with the rule
        sets (every ``rules_refresh_s``): how a promotion, a rollback or a shadow started in
        one process reaches every other."""
        self._champion = source

    def _follow_champion(self) -> None:
        source = self._champion
        if source is None:
            return
        self._follow_live(source)
        self._follow_shadow(source)

    def _follow_shadow(self, source: ChampionSource) -> None:
        wanted = source.shadow()
        shadow = self._shadow_model
        current = getattr(shadow, "version", None) if shadow is not None else ""
        if wanted is None or wanted == current or wanted == self._unloadable_shadow:
            return
        live = getattr(self.model, "version", None) if self.model is not None else None
        if wanted == "" or wanted == live:  # the live model is never its own shadow
            self._shadow_model = None
            return
        try:
            model = source.load(wanted)
        except FinbridgeError as exc:  # keep the shadow we have; say it once
            log.error("shadow model %s cannot be loaded, kept %s: %s", wanted, current, exc)
            self._unloadable_shadow = wanted
            return
        self.set_shadow_model(model)

    def _follow_live(self, source: ChampionSource) -> None:
        wanted = source.champion()
        current = getattr(self.model, "version", None) if self.model is not None else ""
        if wanted is None or wanted == current or wanted == self._unloadable:
            return
        if wanted == "":
            self.model, self._shadow_model = None, None
            return
        try:
            model = source.load(wanted)
        except FinbridgeError as exc:  # keep deciding with the model we have; say it once
            log.error("champion model %s cannot be loaded, kept %s: %s", wanted, current, exc)
            self._unloadable = wanted
            return
        self.use_model(model)

    @property
    def live_rule_set(self) -> CompiledRuleSet:
        return self._live

    @property
    def shadow_rule_set(self) -> CompiledRuleSet | None:
        return self._shadow

    # -- models -----------------------------------------------------------------------------
    @property
    def shadow_model(self) -> Scorer | None:
        return self._shadow_model

    def set_shadow_model(self, model: Scorer | None) -> None:
        """Score ``model`` beside the live one from the next decision (``None``: stop)."""
        self._shadow_model = model

    def use_model(self, model: Scorer) -> None:
        """Make ``model`` the live one from the next decision (the shadow slot is emptied)."""
        self.model, self._shadow_model = model, None
        self.catalog.numeric |= set(getattr(model, "feature_names", ()))

    # -- decisions --------------------------------------------------------------------------
    def decide(self, actor: Principal, data: Mapping[str, Any] | DecisionRequestModel) -> Decision:
        """Decide on one event and store the decision before returning it."""
        made = self._evaluate(actor, data)
        if isinstance(made, Decision):
            return made  # this event id was decided before
        try:
            self.store.save(made.writes)
        except DuplicateEvent:
            return self._first_stored(made.decision.event_id)
        return made.decision

    async def decide_async(
        self, actor: Principal, data: Mapping[str, Any] | DecisionRequestModel
    ) -> Decision:
        """:meth:`decide` for an event loop (the decision gateway, the API's route).

        The decision is computation on in-memory state and runs on the loop; only the wait for
        the store's commit is asynchronous, so no worker thread is held per request. Requests
        that reach this in the same loop turn are decided together on the next one
        (:meth:`_decide_turn`): each exactly as alone and in arrival order, but the fixed costs
        (score call, rule-set check, commit hand-off) paid once per batch, and the caller waits
        on one future, resolved once its decision is stored.
        """
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Decision] = loop.create_future()
        asks = self._turns.get(loop)
        if asks is None:
            asks = self._turns[loop] = []
            loop.call_soon(self._decide_turn, loop)
        asks.append((actor, data, done))
        return await done

    def _decide_turn(self, loop: asyncio.AbstractEventLoop) -> None:
        """Decide this turn's batch: checks and features event by event (windows are
        sequential), one score call for the healthy ones, rules and rows each, then every
        bundle handed to the store in this turn (one batch, one transaction)."""
        asks = self._turns.pop(loop, [])
        drafts: list[tuple[_Draft, asyncio.Future[Decision]]] = []
        for actor, data, done in asks:
            try:
                made = self._prepare(actor, data)
            except Exception as exc:  # this caller's problem alone (bad input, refusal)
                _settle(done, None, exc)
                continue
            if isinstance(made, Decision):
                _settle(done, made, None)
            else:
                drafts.append((made, done))
        if not drafts:
            return
        try:
            scores = self._scores([draft for draft, _ in drafts])
        except Exception as exc:  # the model failed: every decision of the batch says so
            for _, done in drafts:
                _settle(done, None, exc)
            return
        for (draft, done), ml_score in zip(drafts, scores, strict=True):
            try:
                pending = self._finish(draft, ml_score)
                self._store_soon(pending, done)
            except Exception as exc:
                _settle(done, None, exc)

    def _store_soon(self, pending: _Pending, done: asyncio.Future[Decision]) -> None:
        saving = getattr(self.store, "save_soon", None)
        committed = saving(pending.writes) if saving is not None else None
        if committed is None:  # a store without a loop writer: its coroutine, as a task
            task = asyncio.get_running_loop().create_task(self._saved(pending))
            task.add_done_callback(lambda t: _settle_from(done, t))
            return

        def stored(f: asyncio.Future[None]) -> None:
            if done.done():
                return
            exc = None if f.cancelled() else f.exception()
            if f.cancelled():
                done.cancel()
            elif isinstance(exc, DuplicateEvent):
                try:
                    _settle(done, self._first_stored(pending.decision.event_id), None)
                except Exception as lookup:
                    _settle(done, None, lookup)
            else:
                _settle(done, pending.decision if exc is None else None, exc)

        committed.add_done_callback(stored)

    async def _saved(self, pending: _Pending) -> Decision:
        try:
            await self.store.save_async(pending.writes)
        except DuplicateEvent:
            return self._first_stored(pending.decision.event_id)
        return pending.decision

    def _first_stored(self, event_id: str) -> Decision:
        # The same event id raced in from two callers: the first stored decision wins.
        existing = self.store.stored(event_id)
        if existing is None:
            raise Conflict(f"event {event_id} could not be stored; retry it")
        return existing

    def _evaluate(
        self, actor: Principal, data: Mapping[str, Any] | DecisionRequestModel
    ) -> Decision | _Pending:
        made = self._prepare(actor, data)
        if isinstance(made, Decision):
            return made
        return self._finish(made, self._scores([made])[0])

    def _prepare(
        self, actor: Principal, data: Mapping[str, Any] | DecisionRequestModel
    ) -> Decision | _Draft:
        """Check the request, answer a decided event id, read lists and windows."""
        if not (actor.has_scope("risk:decide") or actor.has_scope("risk:write")):
            actor.require_scope("risk:decide")
        req = parse_request(data)
        now = self.clock.now()
        if req.occurred_at > now + self.options.max_future_skew:
            raise ValidationError(
                f"occurred_at is {(req.occurred_at - now).total_seconds():.0f}s in the future",
                field="occurred_at",
            )
        if req.event_id:
            existing = self.store.stored(req.event_id)
            if existing is not None:
                return existing
        self.refresh_rules()
        event_id = req.event_id or new_id()
        features, degraded, flood = self._features(req, event_id)
        hits = self.lists.hits(req.entity_keys(), req.occurred_at)
        features["on_blocklist"] = any(h.list_kind == "block" for h in hits)
        features["on_watchlist"] = any(h.list_kind == "watch" for h in hits)
        features["on_allowlist"] = any(h.list_kind == "allow" for h in hits)
        return _Draft(req, event_id, features, degraded, flood, hits)

    def _scores(self, drafts: list[_Draft]) -> list[float | None]:
        """The live model's score of each healthy draft (None: no model, or degraded/flood),
        in one call when the model scores rows in bulk (the same floats as one by one)."""
        model = self.model
        out: list[float | None] = [None] * len(drafts)
        if model is None:
            return out
        healthy = [i for i, d in enumerate(drafts) if d.healthy]
        if not healthy:
            return out
        many = getattr(model, "score_many", None)
        if many is not None and len(healthy) > 1:
            scores = many([drafts[i].features for i in healthy])
        else:
            scores = [model.score(drafts[i].features) for i in healthy]
        for i, score in zip(healthy, scores, strict=True):
            out[i] = float(score)
        return out

    def _finish(self, draft: _Draft, ml_score: float | None) -> _Pending:
        """Rules (live and shadow) over the scored features, the outcome and its rows."""
        req, event_id, features = draft.req, draft.event_id, draft.features
        degraded, flood, hits = draft.degraded, draft.flood, draft.hits
        if ml_score is not None:
            features["ml_score"] = ml_score
        live = self._live
        if degraded is None and flood is None:
            result = live.evaluate(req.event_type, features)
        else:
            result = RuleOutcome("approve", 0.0, ())
        outcome, reasons = combine(result, hits, degraded, flood, self.options.safe_outcome)
        model_version = self.model.version if self.model else "none"
        shadow = None
        candidate = self._shadow_model
        healthy = degraded is None and flood is None
        if healthy and (self._shadow is not None or candidate is not None):
            # The candidate (rule set and/or model) sees the very same features; only the
            # candidate model's score differs. Stored, never enforced.
            s_features = features
            s_ml = ml_score
            if candidate is not None:
                s_ml = float(candidate.score(features))
                s_features = {**features, "ml_score": s_ml}
            s_rules = self._shadow or live
            sres = s_rules.evaluate(req.event_type, s_features)
            s_out, _ = combine(sres, hits, None, None, self.options.safe_outcome)
            shadow = ShadowResult(
                s_out,
                sres.score,
                s_rules.label,
                tuple(h.name for h in sres.fired),
                s_ml,
                candidate.version if candidate is not None else model_version,
            )
        # Built once, with its case and shadow (not rebuilt field by field after the rows).
        decision = Decision(
            decision_id=new_id(),
            event_id=event_id,
            event_type=req.event_type,
            customer_id=req.customer_id,
            outcome=outcome,
            score=result.score,
            ml_score=ml_score,
            fired=tuple(h.name for h in result.fired),
            reasons=tuple(reasons),
            rule_set=live.label,
            model_version=model_version,
            degraded=degraded,
            case_id=new_id() if outcome == "review" else None,
            shadow=shadow,
            features=features,
        )
        return self._writes(req, decision)

    def _features(
        self, req: DecisionRequest, event_id: str
    ) -> tuple[dict[str, Any], str | None, str | None]:
        features, degraded, flood = event_features(req, event_id, self.velocity, self._tz)
        if self.delayed is not None:
            features.update(self.delayed.lookup(req))
        return features, degraded, flood

    def _writes(self, req: DecisionRequest, d: Decision) -> _Pending:
        """The rows that make ``d`` durable: decision(s), a review case, the event (tuples in
        the port's ``DECISION_COLUMNS`` / ``CASE_COLUMNS`` order)."""
        now = self.clock.now()
        amount_minor, currency = req.amount.minor, req.amount.code
        case_id, shadow = d.case_id, d.shadow
        bundle = Writes()
        # id, event_id, mode, event_type, customer_id, occurred_at, decided_at, outcome, score,
        # ml_score, amount_minor, currency, rule_set, model_version, fired, reasons, degraded,
        # request
        bundle.decisions.append(
            (
                d.decision_id, d.event_id, "live", d.event_type, d.customer_id, req.occurred_at,
                now, d.outcome, d.score, d.ml_score, amount_minor, currency, d.rule_set,
                d.model_version, list(d.fired), list(d.reasons), d.degraded,
                {**req.to_json(), "event_id": d.event_id},
            )
        )  # fmt: skip
        if shadow is not None:
            bundle.decisions.append(
                (
                    new_id(), d.event_id, "shadow", d.event_type, d.customer_id,
                    req.occurred_at, now, shadow.outcome, shadow.score, shadow.ml_score,
                    amount_minor, currency, shadow.rule_set,
                    shadow.model_version or d.model_version, list(shadow.fired), [], None, None,
                )
            )  # fmt: skip
        if case_id is not None:
            urgent = d.score >= 60
            sla = self.options.urgent_case_sla if urgent else self.options.case_sla
            # id, decision_id, event_id, customer_id, status, priority, assignee, opened_at,
            # sla_due_at
            bundle.cases.append(
                (
                    case_id, d.decision_id, d.event_id, d.customer_id, "open",
                    1 if urgent else 2, None, now, now + sla,
                )
            )  # fmt: skip
        bundle.events.append(decision_event(d, req, now))
        return _Pending(d, bundle)

    def warm(self) -> None:
        """Do now what the first decision would otherwise pay for: read rule sets and lists,
        score once with each model (their kernels load and compile on first use: 1.4 s in the
        gateway, measured), and start the store and its writer. Nothing is decided or stored."""
        self.refresh_rules(force=True)
        self.lists.hits({}, self.clock.now())
        features: dict[str, Any] = dict(self._live.zero_context)
        for model in (self.model, self._shadow_model):
            if model is not None:
                model.score(features)
                many = getattr(model, "score_many", None)
                if many is not None:  # the batch kernel loads on its first call too
                    many([features, features])
        self._live.evaluate("payment", features)
        request = parse_request(
            {"event_type": "login", "occurred_at": self.clock.now(), "customer_id": "warm-up",
             "device_id": "warm-up"}
        )  # fmt: skip
        if self.delayed is not None:
            self.delayed.lookup(request)  # builds the delayed-feature table (a database read)
        self.store.warm()

    def record_posting(self, decision_id: str, *, posted: bool, reason: str | None) -> None:
        """Keep the fate of the ledger posting a decision was taken for (see ``RiskGuard``)."""
        self.store.record_posting(decision_id, posted=posted, reason=reason)

    def close(self) -> None:
        """Flush pending writes and release the store and the velocity state."""
        self.store.close()
        self.velocity.close()


def event_features(
    req: DecisionRequest, event_id: str, velocity: VelocityStore, tz: ZoneInfo
) -> tuple[dict[str, Any], str | None, str | None]:
    """Features of one event as of its own time: event fields, velocity windows, ratios.

    Returns the features and, when the velocity store failed or refused a flood, why.
    """
    local = req.occurred_at.astimezone(tz)
    amount = float(req.amount.amount)
    features: dict[str, Any] = {
        "amount": amount,
        "hour": float(local.hour),
        "is_night": local.hour < 6,
        "is_weekend": local.weekday() >= 5,
        "event_type": req.event_type,
        "channel": req.channel,
        "country": req.country,
    }
    degraded = flood = None
    try:
        features.update(velocity.observe(velocity_event(req, event_id)))
    except VelocityUnavailable as exc:
        degraded = exc.detail
    except EntityFlood as exc:
        flood = exc.detail
    derive(features)
    return features, degraded, flood


def velocity_event(req: DecisionRequest, event_id: str) -> VelocityEvent:
    """What the velocity windows keep of ``req``: its entity keys (per family), amount, time.
    One place, so an event observed from the stream lands on the keys its decision would."""
    fam = req.family
    keys = {k: f"{fam}:{v}" for k, v in req.entity_keys().items() if v}
    attrs = {
        "device": req.device_id or "",
        "payee": req.payee_id or "",
        "customer": req.customer_id,
    }
    return VelocityEvent(
        event_id=event_id,
        ts_ms=int(req.occurred_at.timestamp() * 1000),
        amount_minor=req.amount.minor,
        keys=keys,
        attrs={k: v for k, v in attrs.items() if v},
    )


def decision_event(d: Decision, req: DecisionRequest, now: Any) -> Event:
    """The ``risk.decision`` event of ``d``, validated by its schema here, where it is built
    (the writer stores it as it is)."""
    return Event(
        event_type="risk.decision",
        occurred_at=now,
        source=SOURCE,
        subject_id=d.customer_id,
        payload={
            "decision_id": d.decision_id,
            "event_id": d.event_id,
            "event_type": d.event_type,
            "customer_id": d.customer_id,
            "outcome": d.outcome,
            "score": d.score,
            "ml_score": d.ml_score,
            "amount": str(req.amount.amount),
            "currency": req.amount.code,
            "rule_set": d.rule_set,
            "model_version": d.model_version,
            "fired": list(d.fired),
            "reasons": list(d.reasons),
            "degraded": d.degraded,
        },
    ).validated()


def combine(
    result: RuleOutcome,
    hits: list[ListEntry],
    degraded: str | None,
    flood: str | None,
    safe_outcome: str,
) -> tuple[str, list[str]]:
    """Lists, rules and failure modes -> one outcome with reasons a person can read.

    Precedence: a block-list hit or a flood declines; a degraded engine returns the safe outcome
    (or worse, if a list says so); an allow-list hit approves what the rules would only review
    or step up (never a hard rule decline); otherwise the rules decide.
    """
    reasons = [h.reason for h in result.fired]
    reasons += [f"rule error: {e}" for e in result.errors]
    outcome = result.outcome
    blocks = [h for h in hits if h.list_kind == "block"]
    allows = [h for h in hits if h.list_kind == "allow"]
    watches = [h for h in hits if h.list_kind == "watch"]
    for h in watches:
        reasons.append(f"{h.entity_type} on watch list: {h.reason} (source: {h.source})")
    if degraded is not None:
        outcome = safe_outcome
        reasons.append(f"safe decision '{safe_outcome}' by policy: {degraded}")
    if flood is not None:
        outcome = "decline"
        reasons.append(f"flood from one entity: {flood}")
    if allows and not blocks and outcome in ("review", "step_up") and degraded is None:
        hard = any(h.action == outcome for h in result.fired)
        if not hard:
            outcome = "approve"
            reasons.append(f"{allows[0].entity_type} on allow list: {allows[0].reason}")
    if blocks:
        outcome = "decline"
        reasons += [
            f"{h.entity_type} on block list: {h.reason} (source: {h.source})" for h in blocks
        ]
    if not reasons:
        reasons.append("no risk signal fired")
    assert severity(outcome) >= 0
    return outcome, reasons


def _settle(
    done: asyncio.Future[Decision], value: Decision | None, exc: BaseException | None
) -> None:
    """Answer one waiting caller (unless it went away)."""
    if done.done():
        return
    if exc is not None:
        done.set_exception(exc)
    else:
        assert value is not None
        done.set_result(value)


def _settle_from(done: asyncio.Future[Decision], task: asyncio.Task[Decision]) -> None:
    if task.cancelled():
        if not done.done():
            done.cancel()
        return
    exc = task.exception()
    _settle(done, None if exc is not None else task.result(), exc)
