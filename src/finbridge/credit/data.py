"""Input checks shared by every credit estimator: the target, usable columns, scoring frames.

Any tabular dataset with a binary target goes through these checks, so the estimators need no
dataset-specific code: categorical columns are recognised by dtype, the 'bad' label by value.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finbridge.core.errors import ValidationError

# Values read as "bad" (the event a credit model predicts) when the caller does not say.
BAD_WORDS = frozenset({"bad", "default", "defaulted", "yes", "true", "1", "y", "event"})


def is_categorical(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series))


def binary_target(
    y: object, *, bad_label: object | None = None, field: str = "target"
) -> np.ndarray:
    """Return the target as 0/1 ints (1 = bad), refusing anything that is not two classes."""
    if y is None:
        raise ValidationError("the target is missing", field=field)
    series = pd.Series(np.asarray(y)) if not isinstance(y, pd.Series) else y
    if series.isna().any():
        raise ValidationError(
            f"the target has {int(series.isna().sum())} missing values", field=field
        )
    values = list(pd.unique(series))
    if len(values) != 2:
        raise ValidationError(
            f"the target must have exactly two classes, found {len(values)}: "
            f"{', '.join(repr(str(v)) for v in values[:5])}",
            field=field,
        )
    if bad_label is None:
        as_text = {str(v).strip().lower(): v for v in values}
        if set(as_text) == {"0", "1"} or set(as_text) == {"false", "true"}:
            bad_label = as_text.get("1", as_text.get("true"))
        else:
            hits = [v for k, v in as_text.items() if k in BAD_WORDS]
            if len(hits) != 1:
                raise ValidationError(
                    f"cannot tell which of {values} means 'bad'; name it with --bad-label "
                    "(bad_label: in a training config)",
                    field=field,
                )
            bad_label = hits[0]
    if bad_label not in values:
        raise ValidationError(f"bad_label {bad_label!r} is not one of {values}", field=field)
    return (series.to_numpy() == bad_label).astype(int)


def split_target(
    frame: pd.DataFrame, target: str, *, bad_label: object | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Separate ``target`` from the features, with an error naming it when it is absent."""
    if target not in frame.columns:
        raise ValidationError(
            f"target column {target!r} not in the data (columns: {list(frame.columns)[:10]})",
            field="target",
        )
    return frame.drop(columns=[target]), binary_target(frame[target], bad_label=bad_label)


@dataclass(frozen=True)
class FeatureSchema:
    """What the model saw at training: column order, kinds and the categories of each."""

    numeric: tuple[str, ...]
    categorical: dict[str, frozenset[str]] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def feature_schema(
    X: pd.DataFrame, *, drop_unusable: bool = False, exclude: tuple[str, ...] = ()
) -> FeatureSchema:
    """Inspect training features; constant or all-null columns are an error (or dropped)."""
    if not isinstance(X, pd.DataFrame):
        raise ValidationError("features must be a pandas DataFrame with named columns", field="X")
    if X.shape[0] < 10:
        raise ValidationError(f"need at least 10 training rows, got {X.shape[0]}", field="X")
    numeric: list[str] = []
    categorical: dict[str, frozenset[str]] = {}
    dropped: dict[str, str] = {}
    for col in X.columns:
        if col in exclude:
            continue
        s = X[col]
        reason = None
        if s.isna().all():
            reason = "all values are null"
        elif s.nunique(dropna=True) < 2:
            reason = "the column is constant"
        if reason:
            if not drop_unusable:
                raise ValidationError(
                    f"column {col!r} cannot be used: {reason}", field=str(col), reason=reason
                )
            dropped[str(col)] = reason
            continue
        if is_categorical(s):
            categorical[str(col)] = frozenset(s.dropna().astype(str).unique().tolist())
        else:
            numeric.append(str(col))
    if not numeric and not categorical:
        raise ValidationError("no usable feature columns", field="X")
    return FeatureSchema(tuple(numeric), categorical, dropped)


def conform(
    X: pd.DataFrame,
    schema: FeatureSchema,
    *,
    unseen: str = "error",
    needed: list[str] | tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """Check a scoring frame against the training schema and return it in training order.

    ``unseen="error"`` refuses categories the model never saw (a silent 0 WoE would score them
    as average); ``unseen="missing"`` treats them as missing values instead. ``needed`` names
    the columns the model really uses (default: all it saw): only those must be present,
    others the caller leaves out are filled as missing, and fields the model never saw are
    ignored.
    """
    if isinstance(X, dict):
        X = pd.DataFrame([X])
    if not isinstance(X, pd.DataFrame):
        raise ValidationError("applicants must be a DataFrame or a mapping", field="X")
    required = schema.columns if needed is None else list(needed)
    missing = [c for c in required if c not in X.columns]
    if missing:
        raise ValidationError(
            f"missing feature columns the model uses: {', '.join(missing)}", field=missing[0]
        )
    absent = [c for c in schema.columns if c not in X.columns]
    out = X.reindex(columns=schema.columns) if absent else X[schema.columns].copy()
    for col in schema.numeric:
        converted = pd.to_numeric(out[col], errors="coerce")
        bad = converted.isna() & out[col].notna()
        if bad.any():
            raise ValidationError(
                f"non-numeric value {out[col][bad].iloc[0]!r} in numeric column {col!r}",
                field=col,
            )
        out[col] = converted.astype(float)
    for col, known in schema.categorical.items():
        text = out[col].astype(object).where(out[col].isna(), out[col].astype(str))
        new = text.notna() & ~text.isin(known)
        if new.any():
            if unseen == "error":
                raise ValidationError(
                    f"unseen category {text[new].iloc[0]!r} in column {col!r}; "
                    f"known: {sorted(known)[:8]}",
                    field=col,
                )
            text = text.where(~new, None)
        out[col] = text
    return out


def fingerprint(frame: pd.DataFrame, y: np.ndarray | None = None) -> str:
    """sha256 of the training data (values, column names, order): proves what a model saw."""
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, frame.columns)).encode())
    h.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    if y is not None:
        h.update(np.asarray(y, dtype=np.int64).tobytes())
    return h.hexdigest()
