"""Building the decision maker from risk's settings section (``settings.risk``)."""

from __future__ import annotations

from sqlalchemy import Engine

from finbridge.core.clock import Clock
from finbridge.core.principal import Principal
from finbridge.core.settings import RiskSettings
from finbridge.risk.delayed import TerminalRiskTable
from finbridge.risk.engine import DecisionMaker, EngineOptions
from finbridge.risk.velocity import InProcessVelocity, VelocityStore, default_config


def build_velocity(risk: RiskSettings, redis_url: str | None) -> VelocityStore:
    config = default_config()
    if risk.velocity == "redis":
        from finbridge.risk.velocity_redis import RedisVelocity

        return RedisVelocity(
            config, redis_url or "redis://127.0.0.1:6379/0", timeout_s=risk.redis_timeout_ms / 1000
        )
    return InProcessVelocity(config)


def build_decision_maker(
    engine: Engine,
    clock: Clock,
    risk: RiskSettings,
    *,
    redis_url: str | None = None,
    business_timezone: str = "Asia/Shanghai",
) -> DecisionMaker:
    from finbridge.risk.model import ARTIFACT, FraudModel

    model = None
    if risk.use_model:
        path = risk.model_path or ARTIFACT
        if path.exists():
            model = FraudModel.load(path)
    built = DecisionMaker(
        engine,
        clock,
        build_velocity(risk, redis_url),
        model=model,
        delayed=TerminalRiskTable(engine, clock) if model is not None else None,
        options=EngineOptions(
            safe_outcome=risk.safe_outcome,
            business_timezone=business_timezone,
            group_commit=risk.group_commit,
            writer_process=risk.writer_process,
        ),
    )
    if risk.shadow_model_path is not None:
        built.set_shadow_model(
            Principal.system("risk-setup"), FraudModel.load(risk.shadow_model_path)
        )
    return built
