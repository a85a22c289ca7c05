"""Building the risk engine from settings (used by the API, console, CLI and the ledger guard).

Risk's own knobs come from ``FINBRIDGE_RISK_*`` environment variables; the Redis URL is the
platform's ``FINBRIDGE_REDIS_URL``. The engine is long-lived (it holds the in-process velocity
windows and the compiled rule sets), so interfaces keep one per process in their state dict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine

from finbridge.core.clock import Clock
from finbridge.core.principal import Principal
from finbridge.core.settings import Settings
from finbridge.risk.delayed import TerminalRiskTable
from finbridge.risk.engine import EngineOptions, RiskEngine
from finbridge.risk.model import ARTIFACT, FraudModel
from finbridge.risk.velocity import InProcessVelocity, VelocityStore, default_config
from finbridge.risk.velocity_redis import RedisVelocity

STATE_KEY = "risk"


class RiskSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FINBRIDGE_RISK_", extra="ignore")

    velocity: Literal["memory", "redis"] = "memory"
    redis_timeout_ms: int = 200
    safe_outcome: Literal["approve", "review", "step_up", "decline"] = "step_up"
    model_path: Path | None = None  # default: the shipped artifact
    shadow_model_path: Path | None = None  # a candidate model scored beside the live one
    use_model: bool = True
    group_commit: bool = True  # share commits among concurrent decisions (see risk.writer)
    writer_process: bool = False  # commit them in a child process (risk.writer_process)


def build_velocity(settings: Settings, risk: RiskSettings) -> VelocityStore:
    config = default_config()
    if risk.velocity == "redis":
        return RedisVelocity(
            config,
            settings.redis_url or "redis://127.0.0.1:6379/0",
            timeout_s=risk.redis_timeout_ms / 1000,
        )
    return InProcessVelocity(config)


def build_risk_engine(
    engine: Engine, clock: Clock, settings: Settings, risk: RiskSettings | None = None
) -> RiskEngine:
    risk = risk or RiskSettings()
    model = None
    if risk.use_model:
        path = risk.model_path or ARTIFACT
        if path.exists():
            model = FraudModel.load(path)
    built = RiskEngine(
        engine,
        clock,
        build_velocity(settings, risk),
        model=model,
        delayed=TerminalRiskTable(engine, clock) if model is not None else None,
        options=EngineOptions(
            safe_outcome=risk.safe_outcome,
            business_timezone=settings.business_timezone,
            group_commit=risk.group_commit,
            writer_process=risk.writer_process,
        ),
    )
    if risk.shadow_model_path is not None:
        built.set_shadow_model(
            Principal.system("risk-setup"), FraudModel.load(risk.shadow_model_path)
        )
    return built


def risk_engine_for(
    state: dict[str, Any], engine: Engine, clock: Clock, settings: Settings
) -> RiskEngine:
    """The process's engine, created on first use and kept in ``state`` (``Platform.state``)."""
    current = state.get(STATE_KEY)
    if current is None:
        current = state[STATE_KEY] = build_risk_engine(engine, clock, settings)
    return current  # type: ignore[no-any-return]
