"""The risk engine's face: one ``RiskService`` per platform, built from the settings tree.

Interfaces (API, console, CLI, the decision gateway) and the platform talk to risk only through
this class. It owns the workflows that change what decides (promote a rule set, start or stop a
shadow model, promote it), each one audited, so no interface copies them.

Building it is cheap: the decision maker (model, velocity state, decision store) is made on first
use or by :meth:`warm`, which a server calls before it reports ready.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from finbridge.core.clock import Clock
from finbridge.core.errors import Conflict
from finbridge.core.money import Money
from finbridge.core.principal import Principal
from finbridge.core.settings import RiskSettings, Settings
from finbridge.lake import Event, emit
from finbridge.risk.cases import Case, CaseResolver, CaseService
from finbridge.risk.decisions import Decision, DecisionMaker
from finbridge.risk.events import SOURCE
from finbridge.risk.rules import (
    CompiledRuleSet,
    ListService,
    RuleSetService,
    RuleSetSpec,
    StoredRuleSet,
)
from finbridge.store.engine import unit_of_work

if TYPE_CHECKING:  # models and backtests pull in polars and numpy: the methods load them
    from finbridge.lake.featurestore import FeatureStore
    from finbridge.lake.monitoring import MonitorRun, MonitorStore, Thresholds
    from finbridge.risk.decisions import Scorer
    from finbridge.risk.learning import (
        DecisionHistory,
        HandbookHistory,
        LabelledHistory,
        RetrainPolicy,
        TurnResult,
    )
    from finbridge.risk.models import RegisteredModel, ShadowComparison
    from finbridge.risk.observed import ObserveResult
    from finbridge.risk.posting import RiskGuard


_UNSET = object()


def _version_or_rules(model: object | None) -> str:
    """A registry pointer at ``model``: its version, or ``""`` for no model (rules only)."""
    return getattr(model, "version", None) or ""


class RiskService:
    """Real-time decisions, rule sets and lists, models and shadow, cases, backtests."""

    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        settings: RiskSettings,
        *,
        redis_url: str | None = None,
        business_timezone: str = "Asia/Shanghai",
        data_dir: Path = Path("var"),
        decisions: DecisionMaker | None = None,
        case_resolvers: Mapping[str, CaseResolver] | None = None,
    ) -> None:
        """``decisions``: a decision maker made by the caller (an embedder's own model or
        store, a test's stand-in scorer) instead of the one ``settings`` describe.
        ``case_resolvers``: per origin, the engine that hears the verdict on a case it opened
        (the platform wires payments' screening)."""
        self.engine = engine
        self.clock = clock
        self.settings = settings
        self.cases = CaseService(engine, clock, case_resolvers)
        self._redis_url = redis_url
        self._timezone = business_timezone
        self._data_dir = data_dir
        self._lock = threading.Lock()
        self._switch = threading.Lock()  # one model switch at a time
        self._maker: DecisionMaker | None = decisions
        # The model this process's last promotion replaced (``_UNSET``: none). The registry's
        # ROLLBACK pointer is what counts (any process may undo, once); this copy spares a
        # reload, and is the only way back to a model the registry cannot hold.
        self._before_promotion: Scorer | object | None = _UNSET

    @classmethod
    def build(
        cls,
        engine: Engine,
        clock: Clock,
        settings: Settings,
        *,
        case_resolvers: Mapping[str, CaseResolver] | None = None,
    ) -> RiskService:
        """The platform's risk face (cheap: nothing is loaded until first use or ``warm``)."""
        return cls(
            engine,
            clock,
            settings.risk,
            redis_url=settings.redis_url,
            business_timezone=settings.business_timezone,
            data_dir=settings.data_dir,
            case_resolvers=case_resolvers,
        )

    def open_case(
        self,
        actor: Principal,
        *,
        origin: str,
        subject_id: str,
        customer_id: str | None,
        summary: str,
    ) -> Case:
        """Put another engine's question (a screening hit on a payment) in the analysts' queue,
        urgent; the verdict goes back through the resolver registered for ``origin``."""
        return self.cases.open(
            actor, origin=origin, subject_id=subject_id, customer_id=customer_id, summary=summary
        )

    # -- life cycle --------------------------------------------------------------------------
    @property
    def decisions(self) -> DecisionMaker:
        """The decision maker, made once (model loaded, store opened) on first use."""
        maker = self._maker
        if maker is None:
            with self._lock:
                if self._maker is None:
                    from finbridge.risk._build import build_decision_maker

                    self._maker = build_decision_maker(
                        self.engine,
                        self.clock,
                        self.settings,
                        redis_url=self._redis_url,
                        business_timezone=self._timezone,
                        registry=self.registry_dir,
                    )
                maker = self._maker
        return maker

    def warm(self) -> None:
        """Load the model, rule sets and lists and start the decision store (the writer process,
        if configured), so the first decision after a server reports ready costs what the
        second does."""
        self.decisions.warm()

    def close(self) -> None:
        """Flush pending decisions and release the store, its writer and the velocity state."""
        with self._lock:
            maker, self._maker = self._maker, None
        if maker is not None:
            maker.close()

    # -- decisions ---------------------------------------------------------------------------
    def decide(self, actor: Principal, data: Mapping[str, Any]) -> Decision:
        """Decide on one event and store the decision before returning it."""
        return self.decisions.decide(actor, data)

    async def decide_async(self, actor: Principal, data: Mapping[str, Any]) -> Decision:
        """:meth:`decide` for an event loop: only the commit is awaited. A service that was not
        warmed is built on a worker thread (loading the model must not block the loop)."""
        maker = self._maker
        if maker is None:
            maker = await asyncio.to_thread(lambda: self.decisions)
        return await maker.decide_async(actor, data)

    def observe_events(
        self, actor: Principal, session: Session, events: Sequence[Event]
    ) -> ObserveResult:
        """Count in the velocity windows the spend the engine did not decide (the stream's
        ``risk-velocity`` consumer), once per event id: :mod:`finbridge.risk.observed`."""
        actor.require_scope("risk:decide")
        from finbridge.risk.observed import observe

        return observe(session, self.decisions.velocity, events)

    def posting_guard(self, *, cumulative_limits: Mapping[str, Money] | None = None) -> RiskGuard:
        """Banking's ``PostingGuard`` (``check`` and ``settle``) over this service's decisions;
        ``cumulative_limits`` (per currency) step up a customer's postings once 24 hours of them
        reach the limit (the platform passes identity's large-transfer limits).

        The adapter imports banking's protocol, so it loads only when a guard is asked for."""
        from finbridge.risk._build import build_velocity
        from finbridge.risk.posting import SPEND_WINDOWS, RiskGuard

        # The 24-hour sum per customer and currency, on the same backend as the decision
        # windows (shared by every process in Redis), kept apart from the model's features.
        spend = build_velocity(
            self.settings, self._redis_url, SPEND_WINDOWS, prefix="finbridge:risk:spend"
        )
        return RiskGuard(self.decisions, cumulative_limits=cumulative_limits, spend=spend)

    def decision(self, actor: Principal, event_id: str) -> Decision | None:
        """The stored live decision on ``event_id`` (with its posting outcome), if any."""
        actor.require_scope("risk:read")
        return self.decisions.store.stored(event_id)

    def shadow_comparison(
        self, actor: Principal, *, since: datetime | None = None
    ) -> ShadowComparison:
        """Live and shadow decisions on the same events, side by side."""
        from finbridge.risk.models import compare_shadow

        return compare_shadow(self.engine, actor, since=since)

    def running(self) -> dict[str, str | None]:
        """What decides now: live and shadow rule sets and models (fresh from the database)."""
        maker = self.decisions
        maker.refresh_rules(force=True)
        shadow_rules = maker.shadow_rule_set
        return {
            "live": maker.live_rule_set.label,
            "shadow": shadow_rules.label if shadow_rules else None,
            "model": maker.model.version if maker.model else "none",
            "shadow_model": maker.shadow_model.version if maker.shadow_model else None,
        }

    # -- rule sets and lists -----------------------------------------------------------------
    @property
    def rule_sets(self) -> RuleSetService:
        return self.decisions.rule_sets

    @property
    def lists(self) -> ListService:
        return self.decisions.lists

    def promote_rule_set(
        self, actor: Principal, set_id: str, *, mode: str = "live"
    ) -> StoredRuleSet:
        """Make a stored version live or shadow (audited); it decides from the next event."""
        stored = self.rule_sets.promote(actor, set_id, mode=mode)
        self.decisions.refresh_rules(force=True)
        return stored

    def promote_shadow_rule_set(self, actor: Principal) -> StoredRuleSet:
        """Make the shadow rule set live (audited)."""
        actor.require_scope("risk:write")
        current = self.rule_sets.current("shadow")
        if current is None:
            raise Conflict("there is no shadow rule set to promote")
        return self.promote_rule_set(actor, current.id, mode="live")

    def backtest(
        self, actor: Principal, set_id: str, *, since: datetime | None = None
    ) -> dict[str, Any]:
        """The platform's decision history replayed for the live rule set and a stored one."""
        from finbridge.risk.backtest import backtest_stored

        return backtest_stored(self.decisions, actor, set_id, since=since)

    def backtest_spec(
        self, actor: Principal, spec: RuleSetSpec, *, since: datetime | None = None
    ) -> dict[str, Any]:
        """The live rule set and an unsaved draft (checked first) replayed on the history."""
        from finbridge.risk.backtest import backtest_history

        actor.require_scope("risk:read")
        maker = self.decisions
        return backtest_history(maker, CompiledRuleSet(spec, maker.catalog), since=since)

    # -- models ------------------------------------------------------------------------------
    def models(self, actor: Principal) -> dict[str, str | None]:
        """The live model's and the shadow model's versions."""
        actor.require_scope("risk:read")
        maker = self.decisions
        maker.refresh_rules(force=True)  # a promotion or shadow another process made
        return {
            "live": maker.model.version if maker.model else None,
            "shadow": maker.shadow_model.version if maker.shadow_model else None,
        }

    @property
    def registry_dir(self) -> Path:
        from finbridge.risk.models import registry_dir

        return registry_dir(self._data_dir)

    def registered_models(self, actor: Principal) -> list[RegisteredModel]:
        """Models in the registry directory, newest first."""
        from finbridge.risk.models import list_registered

        actor.require_scope("risk:read")
        return list_registered(self.registry_dir)

    def start_shadow_model(self, actor: Principal, version: str) -> str | None:
        """Score registered model ``version`` beside the live one from the next decision on;
        audited (``risk.shadow_model_started``). Returns the version it replaced, if any."""
        from finbridge.risk.models import change_pointers, load_registered

        actor.require_scope("risk:write")  # before the registry directory is consulted
        model = load_registered(self.registry_dir, version)
        maker = self.decisions
        with self._switch:
            previous = maker.shadow_model.version if maker.shadow_model is not None else None
            payload = {"version": model.version, "previous": previous, "started_by": actor.id}
            self._audit("risk.shadow_model_started", payload)
            maker.set_shadow_model(model)
            with change_pointers(self.registry_dir) as box:
                box[0] = replace(box[0], shadow=model.version)
        return previous

    def stop_shadow_model(self, actor: Principal) -> str | None:
        """Stop scoring the shadow model; audited. Returns the stopped version (None: there was
        none, and nothing is recorded)."""
        from finbridge.risk.models import change_pointers

        actor.require_scope("risk:write")
        maker = self.decisions
        with self._switch:
            maker.refresh_rules(force=True)  # a shadow started in another process
            current = maker.shadow_model
            if current is None:
                return None
            payload = {"version": current.version, "stopped_by": actor.id}
            self._audit("risk.shadow_model_stopped", payload)
            maker.set_shadow_model(None)
            with change_pointers(self.registry_dir) as box:
                box[0] = replace(box[0], shadow="")
        return current.version

    def promote_shadow_model(self, actor: Principal) -> str:
        """Make the shadow model live in one audited step (``risk.model_promoted``)."""
        from finbridge.risk.models import change_pointers

        actor.require_scope("risk:write")
        maker = self.decisions
        with self._switch:
            maker.refresh_rules(force=True)  # a shadow started in another process
            candidate = maker.shadow_model
            if candidate is None:
                raise Conflict("there is no shadow model to promote")
            previous = maker.model.version if maker.model is not None else None
            payload = {"version": candidate.version, "previous": previous, "promoted_by": actor.id}
            self._audit("risk.model_promoted", payload)
            replaced = maker.model
            self._keep_registered(replaced)  # so every process can roll back to it
            self._before_promotion = replaced
            # One transaction for every process: what this promotion replaces (a model the
            # registry cannot hold stays this process's own), the new champion, and the
            # promoted model out of the shadow slot.
            with change_pointers(self.registry_dir) as box:
                box[0] = replace(
                    box[0],
                    rollback=_version_or_rules(replaced) if self._registered(replaced) else None,
                    champion=self._champion_pointer(candidate, box[0].champion),
                    shadow="",
                )
            maker.use_model(candidate)
        return candidate.version

    def _keep_registered(self, model: Scorer | None) -> None:
        from finbridge.risk.models import FraudModel, is_registered, register_model

        if isinstance(model, FraudModel) and not is_registered(self.registry_dir, model.version):
            register_model(self.registry_dir, model, model.version)

    def _registered(self, model: Scorer | object | None) -> bool:
        from finbridge.risk.models import is_registered

        version = getattr(model, "version", None)
        return model is None or bool(version and is_registered(self.registry_dir, version))

    def _champion_pointer(self, model: Scorer | None, current: str | None) -> str | None:
        """The champion pointer every process's decision maker follows: only a registered
        model can be loaded there; another stays this process's own (the pointer unchanged)."""
        if model is None:
            return ""
        return model.version if self._registered(model) else current

    def rollback_model(self, actor: Principal) -> str | None:
        """Undo the last promotion in one audited step (``risk.model_rolled_back``): the model
        it replaced decides again. Returns that model's version (None: no model, rules only)."""
        from finbridge.risk.models import change_pointers, load_registered

        actor.require_scope("risk:write")
        maker = self.decisions
        # One transaction: a second rollback, here or in another process, has nothing to undo.
        with self._switch, change_pointers(self.registry_dir) as box:
            maker.refresh_rules(force=True)  # a promotion another process made
            pointed = box[0].rollback
            local = self._before_promotion
            previous: Scorer | object | None
            if pointed is None:  # undone already, unless it is a model only this process has
                if local is _UNSET or self._registered(local):
                    raise Conflict("no promotion to roll back")
                previous = local
            elif pointed == "":
                previous = None
            elif getattr(local, "version", None) == pointed:
                previous = local
            else:
                previous = load_registered(self.registry_dir, pointed)
            current = maker.model.version if maker.model is not None else None
            back = getattr(previous, "version", None)
            payload = {"version": back, "replaced": current, "rolled_back_by": actor.id}
            self._audit("risk.model_rolled_back", payload)
            champion = self._champion_pointer(previous, box[0].champion)  # type: ignore[arg-type]
            box[0] = replace(box[0], rollback=None, champion=champion)
            self._before_promotion = _UNSET
            if previous is None:
                maker.model = None
            else:
                maker.use_model(previous)  # type: ignore[arg-type]
        return back

    def decision_history(self, store: FeatureStore, *, label_delay_days: int) -> DecisionHistory:
        """The labelled history of this platform's own live decisions (features replayed from
        their stored requests with this engine's windows; verdicts from cases and chargebacks
        with the time each became known), joined through ``store``'s fraud view."""
        from finbridge.risk.learning import DecisionHistory

        maker = self.decisions
        return DecisionHistory(
            self.engine, store, config=maker.velocity.config,
            timezone=maker.options.business_timezone, label_delay_days=label_delay_days,
        )  # fmt: skip

    def retrain(
        self,
        actor: Principal,
        history: LabelledHistory,
        *,
        as_of: datetime | None = None,
        policy: RetrainPolicy | None = None,
    ) -> TurnResult:
        """One turn of the learning loop: a challenger trained on the labelled history known
        at ``as_of`` (default: now), registered, started in shadow, judged beside the live
        model on the latest labelled window (audited: ``risk.retrain_evaluated``) and promoted
        only if it beats it by the policy's margin; otherwise it stays in shadow."""
        from finbridge.core.ids import new_id
        from finbridge.risk.learning import RetrainPolicy, challenge
        from finbridge.risk.models import FraudModel, register_model

        actor.require_scope("risk:write")
        when = as_of or self.clock.now()
        # The handbook's clock (and the engine's replay clock) is naive UTC.
        naive = when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
        rules = policy or RetrainPolicy()
        maker = self.decisions
        champion = maker.model
        version = f"retrain-{naive:%Y%m%d}-{new_id()[-8:]}"
        if champion is not None and not isinstance(champion, FraudModel):
            raise Conflict("the live model cannot score a history in bulk: retrain needs one")
        challenger, result = challenge(history, champion, naive, rules, version=version)
        register_model(self.registry_dir, challenger, version)
        self.start_shadow_model(actor, version)
        with unit_of_work(self.engine) as s:
            emit(
                s,
                Event(
                    event_type="risk.retrain_evaluated",
                    occurred_at=self.clock.now(),
                    source=SOURCE,
                    subject_id=version,
                    payload={
                        "version": version,
                        "champion": result.champion.version if result.champion else None,
                        "promote": result.promote,
                        "reason": result.reason,
                        "margin": rules.margin,
                        "challenger_average_precision": result.challenger.average_precision,
                        "champion_average_precision": (
                            result.champion.average_precision if result.champion else None
                        ),
                        "train_rows": result.train_rows,
                        "eval_rows": result.eval_rows,
                        "as_of": naive.isoformat(),
                        "run_by": actor.id,
                    },
                ),
            )
        if result.promote:
            self.promote_shadow_model(actor)
        return result

    def monitor(
        self,
        actor: Principal,
        store: MonitorStore,
        day: date,
        *,
        thresholds: Thresholds | None = None,
        baseline_days: int = 7,
        label_days: int = 30,
    ) -> list[MonitorRun]:
        """The day's monitor for the live model and every model that decided live that day:
        score PSI, CSI of amount and hour, label-delayed AUC/AP/KS; stored with their alerts.
        A live model without traffic gets a ``no_traffic`` row (never an error)."""
        from finbridge.lake.monitoring import Thresholds
        from finbridge.risk.learning import measure_day, versions_seen

        actor.require_scope("risk:write")
        limits = thresholds or Thresholds()
        maker = self.decisions
        versions = set(versions_seen(self.engine, day))
        if maker.model is not None:
            versions.add(maker.model.version)
        runs = []
        for version in sorted(versions):
            measured = measure_day(
                self.engine, version, day, baseline_days=baseline_days, label_days=label_days,
                psi_alert=limits.psi_alert, psi_retrain=limits.psi_retrain,
            )  # fmt: skip
            runs.append(
                store.record(
                    actor,
                    engine="risk",
                    model="fraud",
                    version=version,
                    day=day,
                    drift=measured.drift,
                    performance=measured.performance,
                    thresholds=limits,
                )
            )
        return runs

    def monitor_replay(
        self,
        actor: Principal,
        store: MonitorStore,
        history: HandbookHistory,
        *,
        shift: timedelta = timedelta(0),
        thresholds: Thresholds | None = None,
        label_delay_days: int = 7,
    ) -> list[MonitorRun]:
        """Monitor days of the live model from a replay of labelled payments that did not pass
        the decision engine (the demo's seeded card payments): stored like live runs."""
        from finbridge.lake.monitoring import Thresholds
        from finbridge.risk.learning import replay_days
        from finbridge.risk.models import FraudModel

        actor.require_scope("risk:write")
        limits = thresholds or Thresholds()
        model = self.decisions.model
        if not isinstance(model, FraudModel):
            return []  # no model (rules only) or one that cannot score in bulk: nothing to watch
        days = replay_days(
            history, model, shift=shift, label_delay_days=label_delay_days,
            psi_alert=limits.psi_alert, psi_retrain=limits.psi_retrain,
        )  # fmt: skip
        return [
            store.record(
                actor,
                engine="risk",
                model="fraud",
                version=model.version,
                day=d.day,
                drift=d.drift,
                performance=d.performance,
                thresholds=limits,
            )
            for d in days
        ]

    def _audit(self, event_type: str, payload: Mapping[str, str | None]) -> None:
        """A model switch as an event (subject: the model version), committed before it acts."""
        with unit_of_work(self.engine) as s:
            emit(
                s,
                Event(
                    event_type=event_type,
                    occurred_at=self.clock.now(),
                    source=SOURCE,
                    subject_id=payload["version"],
                    payload=dict(payload),
                ),
            )
