"""Building the decision maker from risk's settings section (``settings.risk``)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from finbridge.core.clock import Clock
from finbridge.core.settings import RiskSettings
from finbridge.risk.decisions import (
    DecisionMaker,
    DecisionOptions,
    InProcessVelocity,
    TerminalRiskTable,
    VelocityConfig,
    VelocityStore,
    default_config,
)
from finbridge.risk.store import SqlDecisionStore


def build_velocity(
    risk: RiskSettings,
    redis_url: str | None,
    config: VelocityConfig | None = None,
    *,
    prefix: str = "finbridge:risk:v",
) -> VelocityStore:
    """Windows over ``config`` (default: the decision features) on the configured backend;
    another ``config`` keeps its own windows under its own Redis ``prefix``."""
    config = config or default_config()
    if risk.velocity == "redis":
        from finbridge.risk.store import RedisVelocity

        return RedisVelocity(
            config, redis_url or "redis://127.0.0.1:6379/0", prefix=prefix,
            timeout_s=risk.redis_timeout_ms / 1000,
        )  # fmt: skip
    return InProcessVelocity(config)


def build_decision_maker(
    engine: Engine,
    clock: Clock,
    risk: RiskSettings,
    *,
    redis_url: str | None = None,
    business_timezone: str = "Asia/Shanghai",
    registry: Path | None = None,
) -> DecisionMaker:
    """The decision maker ``settings.risk`` describes: model loaded, store chosen; with a
    model ``registry``, it follows the registry's champion (a promotion in any process)."""
    from finbridge.risk.models import ARTIFACT, FraudModel, RegistryChampion

    model = None
    if risk.use_model:
        path = risk.model_path or ARTIFACT
        if path.exists():
            model = FraudModel.load(path)
    built = DecisionMaker(
        engine,
        clock,
        build_velocity(risk, redis_url),
        SqlDecisionStore(
            engine, group_commit=risk.group_commit, writer_process=risk.writer_process
        ),
        model=model,
        delayed=TerminalRiskTable(engine, clock) if model is not None else None,
        options=DecisionOptions(
            safe_outcome=risk.safe_outcome, business_timezone=business_timezone
        ),
    )
    if risk.shadow_model_path is not None:
        built.set_shadow_model(FraudModel.load(risk.shadow_model_path))
    if registry is not None:
        built.follow_champion(RegistryChampion(registry))
    return built
