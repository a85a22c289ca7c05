"""Models and shadow: the fraud model (LightGBM on point-in-time features, scored by flattened
trees), its training protocol, the model registry, and live-vs-shadow comparison.

LightGBM, scikit-learn and numba are imported by the functions that train, load or score in
bulk, never by importing this package."""

from finbridge.risk.models._features import (
    CUSTOMER_WINDOWS,
    HANDBOOK_FEATURES,
    MODEL_FEATURES,
    TERMINAL_WINDOWS,
    load_handbook,
    model_frame,
    prepare,
)
from finbridge.risk.models._fraud import (
    ARTIFACT,
    FraudModel,
    Metrics,
    card_precision_at_k,
    evaluate,
    handbook_benchmark,
    handbook_split,
    load_default_model,
)
from finbridge.risk.models._registry import (
    Pointers,
    RegisteredModel,
    RegistryChampion,
    change_pointers,
    check_version,
    is_registered,
    list_registered,
    load_registered,
    read_pointers,
    register_model,
    registry_dir,
    write_champion,
)
from finbridge.risk.models._shadow import ShadowComparison, compare_shadow

__all__ = [
    "ARTIFACT",
    "CUSTOMER_WINDOWS",
    "HANDBOOK_FEATURES",
    "MODEL_FEATURES",
    "TERMINAL_WINDOWS",
    "FraudModel",
    "Metrics",
    "Pointers",
    "RegisteredModel",
    "RegistryChampion",
    "ShadowComparison",
    "card_precision_at_k",
    "change_pointers",
    "check_version",
    "compare_shadow",
    "evaluate",
    "handbook_benchmark",
    "handbook_split",
    "is_registered",
    "list_registered",
    "load_default_model",
    "load_handbook",
    "load_registered",
    "model_frame",
    "prepare",
    "read_pointers",
    "register_model",
    "registry_dir",
    "write_champion",
]
