"""Rule sets and lists: safe expressions over named features, versioned and promoted with an
audit trail; block, allow and watch lists with provenance and expiry."""

from finbridge.risk.rules._derived import DERIVED_NAMES, derive
from finbridge.risk.rules._lists import LIST_ENTITIES, LIST_KINDS, ListEntry, ListService
from finbridge.risk.rules._spec import (
    BASE_BOOLEAN,
    EVENT_TYPES,
    OUTCOMES,
    Band,
    CompiledRuleSet,
    FeatureCatalog,
    Problem,
    RuleOutcome,
    RuleSetSpec,
    RuleSpec,
    default_rule_set,
    severity,
    validate,
)
from finbridge.risk.rules._stored import RuleSetService, StoredRuleSet

__all__ = [
    "BASE_BOOLEAN",
    "DERIVED_NAMES",
    "EVENT_TYPES",
    "LIST_ENTITIES",
    "LIST_KINDS",
    "OUTCOMES",
    "Band",
    "CompiledRuleSet",
    "FeatureCatalog",
    "ListEntry",
    "ListService",
    "Problem",
    "RuleOutcome",
    "RuleSetService",
    "RuleSetSpec",
    "RuleSpec",
    "StoredRuleSet",
    "default_rule_set",
    "derive",
    "severity",
    "validate",
]
