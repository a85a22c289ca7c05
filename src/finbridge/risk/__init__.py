"""Big-data risk control: real-time decisions (rules, lists, velocity windows, ML scores), rule
sets and lists, models and shadow, review cases, backtests.

Interfaces and the platform use :class:`RiskService`; the concept folders (``decisions``,
``rules``, ``models``, ``cases``, ``backtest``) hold the implementation, and ``store`` the
decision-store and velocity adapters. Importing this package loads no ML or data-frame library:
``models`` and ``backtest`` (polars, numpy; LightGBM, scikit-learn and numba on first use) load
when a service method needs them.
"""

from finbridge.risk._offline import (
    SHIPPED_MODEL,
    check_model_version,
    compile_rule_set,
    model_registry_dir,
    register_model,
    replay_mapped,
    replay_transactions,
    train_file_model,
    train_handbook_model,
)
from finbridge.risk._service import RiskService
from finbridge.risk.card_feed import (
    CARD_FIELDS,
    CardReplay,
    card_events_from_file,
    replay_card_events,
    replay_card_table,
)
from finbridge.risk.cases import Case, CaseNote, CaseResolver
from finbridge.risk.decisions import (
    Decision,
    DecisionRequestModel,
    ShadowResult,
    json_body,
)
from finbridge.risk.mapping import TRANSACTION_SCHEMA, ColumnMapping, load_mapping
from finbridge.risk.observed import OBSERVED_TYPES, ObserveResult
from finbridge.risk.rules import (
    ListEntry,
    Problem,
    RuleSetSpec,
    StoredRuleSet,
    default_rule_set,
)

__all__ = [
    "CARD_FIELDS",
    "OBSERVED_TYPES",
    "SHIPPED_MODEL",
    "TRANSACTION_SCHEMA",
    "CardReplay",
    "Case",
    "CaseNote",
    "CaseResolver",
    "ColumnMapping",
    "Decision",
    "DecisionRequestModel",
    "ListEntry",
    "ObserveResult",
    "Problem",
    "RiskService",
    "RuleSetSpec",
    "ShadowResult",
    "StoredRuleSet",
    "card_events_from_file",
    "check_model_version",
    "compile_rule_set",
    "default_rule_set",
    "json_body",
    "load_mapping",
    "model_registry_dir",
    "register_model",
    "replay_card_events",
    "replay_card_table",
    "replay_mapped",
    "replay_transactions",
    "train_file_model",
    "train_handbook_model",
]
