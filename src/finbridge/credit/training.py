"""Train, evaluate and register a model from any table with a binary target (one call).

The table is profiled first (:mod:`finbridge.credit.profile`), the policy's decisions applied,
then a stratified split is fitted and evaluated; the profile, the decisions, the warnings and
the seed are stored with the version, so its report says what was done to the data.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from finbridge.core.errors import ValidationError
from finbridge.core.principal import Principal
from finbridge.credit.challenger import LightGBMChallenger
from finbridge.credit.policy import TrainingPolicy
from finbridge.credit.profile import prepare
from finbridge.credit.registry import ModelRegistry, ModelVersion
from finbridge.credit.report import evaluate

KINDS = ("scorecard", "lightgbm")


def build(kind: str, params: dict[str, Any] | None = None) -> Any:
    from finbridge.credit.scorecard import Scorecard

    if kind == "scorecard":
        return Scorecard(**(params or {}))
    if kind == "lightgbm":
        return LightGBMChallenger(**(params or {}))
    raise ValidationError(f"model kind must be one of {KINDS}", field="kind")


def _unseen_in_holdout(Xtr: pd.DataFrame, Xte: pd.DataFrame) -> dict[str, int]:
    """Held-out rows per column whose category the training part never had."""
    out = {}
    for col in Xtr.columns:
        if pd.api.types.is_numeric_dtype(Xtr[col]):
            continue
        known = set(Xtr[col].dropna().astype(str))
        n = int((Xte[col].notna() & ~Xte[col].astype(str).isin(known)).sum())
        if n:
            out[str(col)] = n
    return out


def train_and_register(
    registry: ModelRegistry,
    actor: Principal,
    frame: pd.DataFrame,
    *,
    policy: TrainingPolicy,
    name: str,
    params: dict[str, Any] | None = None,
    source: str | None = None,
) -> ModelVersion:
    """Profile, fit on a stratified training split, evaluate on the held-out rest, register.

    Nothing is registered when any step fails.
    """
    actor.require_scope("credit:write")
    prepared = prepare(frame, policy)
    X, y = prepared.X, prepared.y
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=policy.holdout, random_state=policy.seed, stratify=y
    )
    extra: dict[str, Any] = {"unseen": policy.unseen}
    if policy.kind == "lightgbm":
        extra["random_state"] = policy.seed
    model = build(policy.kind, {**(params or {}), **extra, "bad_label": None})
    model.fit(Xtr, ytr)
    unseen = _unseen_in_holdout(Xtr, Xte)
    if unseen and policy.unseen == "error":
        raise ValidationError(
            f"held-out rows have categories the training rows lack: {unseen}; "
            "score them as missing with --unseen missing",
            field=next(iter(unseen)),
        )
    evaluation = evaluate(model, Xte, yte)
    model.set_params(unseen=policy.unseen_scoring)
    warnings = list(prepared.warnings)
    if unseen:
        warnings.append(f"held-out categories unseen in training, scored as missing: {unseen}")
    metrics = {
        "auc": evaluation["auc"],
        "ks": evaluation["ks"],
        "gini": evaluation["gini"],
        "brier": evaluation["brier"],
        "n_holdout": evaluation["n"],
        "train": model.train_metrics_,
        "target": policy.target,
        "evaluation": evaluation,
        "profile": prepared.profile.as_dict(),
        "decisions": prepared.profile.lines(),
        "warnings": warnings,
        "policy": policy.model_dump(mode="json"),
        "seed": policy.seed,
        "source": source,
    }
    return registry.register(actor, name, model, X_train=Xtr, y_train=ytr, metrics=metrics)
