"""Big-data risk control: exact velocity windows, safe rules, lists, ML scores and decisions."""

from finbridge.risk._service import RiskService
from finbridge.risk.velocity import (
    EntityFlood,
    EntityWindows,
    InProcessVelocity,
    LateEvent,
    VelocityConfig,
    VelocityEvent,
    VelocityStore,
    VelocityUnavailable,
    default_config,
)

__all__ = [
    "EntityFlood",
    "EntityWindows",
    "InProcessVelocity",
    "LateEvent",
    "RiskService",
    "VelocityConfig",
    "VelocityEvent",
    "VelocityStore",
    "VelocityUnavailable",
    "default_config",
]
