"""Train, evaluate and register a model from any table with a binary target (one call)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from finbridge.core.errors import ValidationError
from finbridge.core.principal import Principal
from finbridge.credit.challenger import LightGBMChallenger
from finbridge.credit.data import split_target
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


def train_and_register(
    registry: ModelRegistry,
    actor: Principal,
    frame: pd.DataFrame,
    *,
    target: str,
    name: str,
    kind: str = "scorecard",
    drop_columns: tuple[str, ...] = (),
    holdout: float = 0.25,
    seed: int = 0,
    params: dict[str, Any] | None = None,
    bad_label: object | None = None,
) -> ModelVersion:
    """Fit on a stratified training split, evaluate on the held-out rest, register the version.

    Nothing is registered when any step fails.
    """
    actor.require_scope("credit:write")
    if not 0.05 <= holdout <= 0.5:
        raise ValidationError("holdout must be between 0.05 and 0.5", field="holdout")
    unknown = [c for c in drop_columns if c not in frame.columns]
    if unknown:
        raise ValidationError(f"columns to drop not in the data: {unknown}", field="drop")
    X, y = split_target(frame.drop(columns=list(drop_columns)), target, bad_label=bad_label)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=holdout, random_state=seed, stratify=y)
    model = build(kind, {**(params or {}), "bad_label": None})
    model.fit(Xtr, ytr)
    evaluation = evaluate(model, Xte, yte)
    metrics = {
        "auc": evaluation["auc"],
        "ks": evaluation["ks"],
        "gini": evaluation["gini"],
        "brier": evaluation["brier"],
        "n_holdout": evaluation["n"],
        "train": model.train_metrics_,
        "target": target,
        "evaluation": evaluation,
    }
    return registry.register(actor, name, model, X_train=Xtr, y_train=ytr, metrics=metrics)
