"""The risk engine's face: one ``RiskService`` per platform, built from the settings tree.

Interfaces (API, console, CLI, the decision gateway) and the platform talk to risk only through
this class. It owns the workflows that change what runs (promote a rule set, start or stop a
shadow model, promote it), each one audited, so no interface copies them.

Building it is cheap: the decision maker (model, velocity state, decision store) is made on first
use or by :meth:`warm`, which a server calls before it reports ready.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from finbridge.core.clock import Clock
from finbridge.core.errors import Conflict
from finbridge.core.principal import Principal
from finbridge.core.settings import RiskSettings, Settings

if TYPE_CHECKING:  # the implementations load on first use (the model pulls in LightGBM)
    from finbridge.risk.cases import CaseService
    from finbridge.risk.engine import Decision, DecisionMaker
    from finbridge.risk.guard import RiskGuard
    from finbridge.risk.lists import ListService
    from finbridge.risk.registry import RegisteredModel
    from finbridge.risk.rulesets import RuleSetService, StoredRuleSet
    from finbridge.risk.shadow import ShadowComparison


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
        data_dir: Any = None,
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.settings = settings
        self._redis_url = redis_url
        self._timezone = business_timezone
        self._data_dir = data_dir
        self._lock = threading.Lock()
        self._switch = threading.Lock()  # one model switch at a time
        self._maker: DecisionMaker | None = None
        self._cases: CaseService | None = None
        self._closed = False

    @classmethod
    def build(cls, engine: Engine, clock: Clock, settings: Settings) -> RiskService:
        """The platform's risk face (cheap: nothing is loaded until first use or ``warm``)."""
        return cls(
            engine,
            clock,
            settings.risk,
            redis_url=settings.redis_url,
            business_timezone=settings.business_timezone,
            data_dir=settings.data_dir,
        )

    # -- life cycle --------------------------------------------------------------------------
    @property
    def decisions(self) -> DecisionMaker:
        """The decision maker, made once (model loaded, writer started) on first use."""
        maker = self._maker
        if maker is None:
            with self._lock:
                if self._maker is None:
                    from finbridge.risk.setup import build_decision_maker

                    self._maker = build_decision_maker(
                        self.engine,
                        self.clock,
                        self.settings,
                        redis_url=self._redis_url,
                        business_timezone=self._timezone,
                    )
                maker = self._maker
        return maker

    def warm(self) -> None:
        """Load the model and rule sets and start the decision store, so the first decision
        after a server reports ready costs what the second does."""
        self.decisions.warm()

    def close(self) -> None:
        """Flush pending decisions and release the velocity store and the writer."""
        with self._lock:
            maker, self._maker = self._maker, None
        if maker is not None:
            maker.close()

    # -- decisions ---------------------------------------------------------------------------
    def decide(self, actor: Principal, data: Any) -> Decision:
        return self.decisions.decide(actor, data)

    async def decide_async(self, actor: Principal, data: Any) -> Decision:
        return await self.decisions.decide_async(actor, data)

    def posting_guard(self) -> RiskGuard:
        """Banking's ``PostingGuard`` backed by this service's decisions."""
        from finbridge.risk.guard import RiskGuard

        return RiskGuard(self)

    @staticmethod
    def request_schema() -> dict[str, Any]:
        """The JSON schema of a decision request (for the API's documentation)."""
        from finbridge.risk.requests import DecisionRequestModel

        return DecisionRequestModel.model_json_schema()

    def shadow_comparison(
        self, actor: Principal, *, since: datetime | None = None
    ) -> ShadowComparison:
        from finbridge.risk.shadow import compare_shadow

        return compare_shadow(self.engine, actor, since=since)

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
        """Make a stored version live or shadow (audited) and use it from the next decision."""
        stored = self.rule_sets.promote(actor, set_id, mode=mode)
        self.decisions.refresh_rules(force=True)
        return stored

    def promote_shadow_rule_set(self, actor: Principal) -> StoredRuleSet:
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

    # -- models ------------------------------------------------------------------------------
    def models(self, actor: Principal) -> dict[str, str | None]:
        actor.require_scope("risk:read")
        maker = self.decisions
        return {
            "live": maker.model.version if maker.model else None,
            "shadow": maker.shadow_model.version if maker.shadow_model else None,
        }

    def registered_models(self, actor: Principal) -> list[RegisteredModel]:
        from finbridge.risk.registry import list_registered

        actor.require_scope("risk:read")
        return list_registered(self.registry_dir)

    @property
    def registry_dir(self) -> Any:
        from pathlib import Path

        from finbridge.risk.registry import registry_dir

        return registry_dir(Path(self._data_dir or "var"))

    def start_shadow_model(self, actor: Principal, version: str) -> str | None:
        """Score registered model ``version`` beside the live one (audited); returns the
        version it replaced."""
        from finbridge.risk.registry import load_registered, start_shadow_model

        actor.require_scope("risk:write")  # before the registry directory is consulted
        model = load_registered(self.registry_dir, version)
        with self._switch:
            return start_shadow_model(self.decisions, actor, model)

    def stop_shadow_model(self, actor: Principal) -> str | None:
        from finbridge.risk.registry import stop_shadow_model

        with self._switch:
            return stop_shadow_model(self.decisions, actor)

    def promote_shadow_model(self, actor: Principal) -> str:
        with self._switch:
            return self.decisions.promote_shadow_model(actor)

    # -- cases -------------------------------------------------------------------------------
    @property
    def cases(self) -> CaseService:
        if self._cases is None:
            from finbridge.risk.cases import CaseService

            self._cases = CaseService(self.engine, self.clock)
        return self._cases
