"""Online decisions: one event in, approve / review / step_up / decline out, with reasons.

The decision maker, its request and result values, the velocity windows it reads and the
decision-store port it writes through. (Risk as banking's posting guard is ``risk.posting``.)
"""

from finbridge.risk.decisions._decision import Decision, ShadowResult
from finbridge.risk.decisions._delayed import TerminalRiskTable, terminal_rates
from finbridge.risk.decisions._maker import (
    DecisionMaker,
    DecisionOptions,
    DelayedFeatures,
    Scorer,
    combine,
    event_features,
    velocity_event,
)
from finbridge.risk.decisions._port import DecisionStore, DuplicateEvent, Writes
from finbridge.risk.decisions._requests import (
    DecisionRequest,
    DecisionRequestModel,
    json_body,
    parse_request,
)
from finbridge.risk.decisions._velocity import (
    EntityFlood,
    EntityWindows,
    InProcessVelocity,
    LateEvent,
    VelocityConfig,
    VelocityEvent,
    VelocityStore,
    VelocityUnavailable,
    default_config,
    feature_vector,
    parse_span,
)

__all__ = [
    "Decision",
    "DecisionMaker",
    "DecisionOptions",
    "DecisionRequest",
    "DecisionRequestModel",
    "DecisionStore",
    "DelayedFeatures",
    "DuplicateEvent",
    "EntityFlood",
    "EntityWindows",
    "InProcessVelocity",
    "LateEvent",
    "Scorer",
    "ShadowResult",
    "TerminalRiskTable",
    "VelocityConfig",
    "VelocityEvent",
    "VelocityStore",
    "VelocityUnavailable",
    "Writes",
    "combine",
    "default_config",
    "event_features",
    "feature_vector",
    "json_body",
    "parse_request",
    "parse_span",
    "terminal_rates",
    "velocity_event",
]
