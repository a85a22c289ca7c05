"""Profile a training table before any fit, report every problem at once, apply the policy.

One pass finds all the columns a model cannot use or should not trust (constant, all-null,
id-like, leakage suspects, numbers stored as text), the class balance and the rows per class;
:func:`prepare` then applies the :class:`TrainingPolicy` and returns the features, the target and
the list of decisions taken, which the model's report keeps. Problems the policy says are errors
come back together in one message, so a file is fixed in one rerun, not one per column.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from finbridge.core.errors import ValidationError
from finbridge.credit.data import binary_target, is_categorical
from finbridge.credit.policy import TrainingPolicy

ID_NAME = re.compile(r"(^|[_\W])(id|key|uuid|guid|no|nr|num|number|ref)$", re.IGNORECASE)
MIN_ID_ROWS = 20


@dataclass(frozen=True)
class ColumnIssue:
    """One problem found in one column, and what the policy did about it."""

    column: str
    issue: str
    detail: str
    action: str = ""


@dataclass(frozen=True)
class DataProfile:
    """What the profiling step saw: size, classes and every column issue."""

    n_rows: int
    n_features: int
    target: str
    bad_label: str
    classes: dict[str, int]
    issues: tuple[ColumnIssue, ...]
    warnings: tuple[str, ...] = ()
    rows_dropped_no_target: int = 0

    @property
    def bad_rate(self) -> float:
        return self.classes.get(self.bad_label, 0) / max(self.n_rows, 1)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["bad_rate"] = round(self.bad_rate, 6)
        return out

    def lines(self) -> list[str]:
        """Human-readable summary, one fact per line (what the CLI prints)."""
        counts = ", ".join(f"{k!s}: {v:,}" for k, v in self.classes.items())
        out = [
            f"{self.n_rows:,} rows, {self.n_features} feature columns; "
            f"classes {counts} (bad = {self.bad_label!r}, bad rate {self.bad_rate:.1%})"
        ]
        if self.rows_dropped_no_target:
            out.append(f"{self.rows_dropped_no_target:,} rows without a target value dropped")
        out += [f"{i.column}: {i.issue} ({i.detail}) -> {i.action}" for i in self.issues]
        out += [f"WARNING: {w}" for w in self.warnings]
        return out


@dataclass
class Prepared:
    """Features and target after the policy, with the profile that explains them."""

    X: pd.DataFrame
    y: np.ndarray
    profile: DataProfile
    warnings: list[str] = field(default_factory=list)


# Commas are dropped only where they group thousands ("1,234.5"); "12,5" (a decimal comma) is
# not read as 125, it stays text (and the column is not coerced unless others parse).
THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")


def _numeric_text(s: pd.Series) -> pd.Series:
    text = s.dropna().astype(str).str.strip()
    grouped = text.str.match(THOUSANDS)
    return text.where(~grouped, text.str.replace(",", "", regex=False))


def _text_numeric(s: pd.Series, share: float) -> tuple[bool, int]:
    """Whether a text column holds numbers (at least ``share`` of its values parse)."""
    if not is_categorical(s) or pd.api.types.is_bool_dtype(s):
        return False, 0
    values = _numeric_text(s)
    values = values[values != ""]
    if values.empty:
        return False, 0
    parsed = pd.to_numeric(values, errors="coerce")
    ok = int(parsed.notna().sum())
    return ok / len(values) >= share, len(values) - ok


def _coerce(s: pd.Series) -> pd.Series:
    text = _numeric_text(s).replace("", None).reindex(s.index)
    return pd.to_numeric(text, errors="coerce").astype(float)


def _id_like(name: str, s: pd.Series) -> bool:
    values = s.dropna()
    if len(values) < MIN_ID_ROWS or values.nunique() != len(values):
        return False
    if is_categorical(s):
        return True
    if not np.all(np.mod(values.to_numpy(dtype=float), 1) == 0):
        return False  # continuous amounts are often all distinct and still good features
    ordered = values.is_monotonic_increasing or values.is_monotonic_decreasing
    return bool(ID_NAME.search(name)) or ordered


def _separation(s: pd.Series, y: np.ndarray) -> float:
    """How well the column alone separates the classes: AUC for numbers, purity for categories."""
    mask = s.notna().to_numpy()
    ys = y[mask]
    if ys.min(initial=1) == ys.max(initial=0):
        return 0.0
    if is_categorical(s):
        frame = pd.DataFrame({"v": s[mask].astype(str).to_numpy(), "y": ys})
        if frame["v"].nunique() > len(frame) / 2:
            return 0.0  # near-unique labels are "pure" by construction; id-like covers them
        purity = frame.groupby("v")["y"].agg(lambda v: max(v.mean(), 1 - v.mean()))
        weights = frame["v"].value_counts().reindex(purity.index)
        return float((purity * weights).sum() / weights.sum())
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(ys, s[mask].to_numpy(dtype=float)))
    return max(auc, 1.0 - auc)


def _named_drops(frame: pd.DataFrame, policy: TrainingPolicy) -> list[ColumnIssue]:
    named = [*policy.id_columns, *policy.drop]
    unknown = [c for c in named if c not in frame.columns]
    if unknown:
        raise ValidationError(
            f"columns named to drop are not in the data: {unknown} "
            f"(columns: {list(frame.columns)[:12]})",
            field="drop",
        )
    if policy.target in named:
        raise ValidationError(f"the target {policy.target!r} cannot be dropped", field="drop")
    return [
        ColumnIssue(c, "named", "--id-column" if c in policy.id_columns else "--drop", "drop")
        for c in dict.fromkeys(named)
    ]


def _target(frame: pd.DataFrame, policy: TrainingPolicy) -> tuple[pd.DataFrame, np.ndarray, int]:
    target = policy.target
    if not target:
        raise ValidationError(
            "no target column named: say which column is the target", field="target"
        )
    if target not in frame.columns:
        raise ValidationError(
            f"target column {target!r} not in the data (columns: {list(frame.columns)[:12]})",
            field="target",
        )
    labelled = frame[frame[target].notna()]
    dropped = len(frame) - len(labelled)
    if labelled.empty:
        raise ValidationError(f"target column {target!r} has no values", field="target")
    bad = policy.bad_label
    if bad is not None and bad not in set(labelled[target].tolist()):
        # Labels typed on a command line arrive as text; match them to the column's values.
        by_text = {str(v): v for v in pd.unique(labelled[target])}
        bad = by_text.get(str(bad), bad)
    y = binary_target(labelled[target], bad_label=bad, field="target")
    return labelled.reset_index(drop=True), y, dropped


def _class_counts(labels: pd.Series, y: np.ndarray) -> tuple[dict[str, int], str]:
    counts = {str(k): int(v) for k, v in labels.value_counts().items()}
    bad = str(labels[y == 1].iloc[0]) if y.any() else ""
    return counts, bad


def _scan(X: pd.DataFrame, y: np.ndarray, policy: TrainingPolicy) -> list[ColumnIssue]:
    """Every problem of every column, before any is acted on."""
    issues: list[ColumnIssue] = []
    for col in X.columns:
        s = X[col]
        if s.isna().all():
            issues.append(ColumnIssue(col, "all_null", "every value is missing", policy.all_null))
            continue
        numeric_text, bad_values = _text_numeric(s, policy.text_numeric_share)
        if numeric_text:
            detail = "numbers stored as text" + (
                f"; {bad_values} values are not numbers" if bad_values else ""
            )
            issues.append(ColumnIssue(col, "text_numeric", detail, policy.text_numeric))
            if policy.text_numeric == "coerce":
                s = _coerce(s)
        if s.nunique(dropna=True) < 2:
            only = s.dropna().iloc[0]
            issues.append(ColumnIssue(col, "constant", f"only {only!r}", policy.constant))
            continue
        if _id_like(col, s):
            issues.append(
                ColumnIssue(col, "id_like", "a distinct value on every row", policy.id_like)
            )
            continue
        sep = _separation(s, y)
        if sep >= policy.leakage_auc:
            detail = f"alone separates the classes at {sep:.3f}"
            issues.append(ColumnIssue(col, "leakage", detail, policy.leakage))
    return issues


def _size_warnings(counts: dict[str, int], policy: TrainingPolicy) -> list[str]:
    """Rows per class expected in the training and held-out parts, against the minimums."""
    problems = []
    for label, n in counts.items():
        held = int(np.floor(n * policy.holdout))
        train = n - held
        if n < 2 or held < 1:
            raise ValidationError(
                f"class {label!r} has {n} row(s): too few to hold any out for evaluation "
                f"(need at least {int(np.ceil(1 / policy.holdout))} at holdout "
                f"{policy.holdout})",
                field="target",
            )
        if train < policy.min_class_rows_train:
            problems.append(
                f"class {label!r} has {train} training rows (minimum {policy.min_class_rows_train})"
            )
        if held < policy.min_class_rows_holdout:
            problems.append(
                f"class {label!r} has {held} held-out rows (minimum "
                f"{policy.min_class_rows_holdout}): the held-out figures are not reliable"
            )
    if problems and policy.small_data == "refuse":
        raise ValidationError(
            "too little data: " + "; ".join(problems) + ". Add rows, or train anyway with "
            "--allow-small (small_data: warn) and the warning is stored with the model",
            field="data",
        )
    return problems


def prepare(frame: pd.DataFrame, policy: TrainingPolicy) -> Prepared:
    """Profile ``frame``, apply ``policy`` and return what the estimator should see.

    Raises one ``ValidationError`` listing every problem the policy calls an error.
    """
    if frame.empty:
        raise ValidationError("the table has no rows", field="data")
    named = _named_drops(frame, policy)
    labelled, y, no_target = _target(frame, policy)
    labels = labelled[str(policy.target)]
    X = labelled.drop(columns=[str(policy.target), *[i.column for i in named]])
    if X.shape[1] == 0:
        raise ValidationError("no feature columns besides the target", field="data")
    issues = _scan(X, y, policy)
    errors = [i for i in issues if i.action == "error"]
    if errors:
        raise ValidationError(
            f"{len(errors)} column problem(s): "
            + "; ".join(f"{i.column}: {i.issue} ({i.detail})" for i in errors)
            + ". Drop them (--drop) or change the policy in --config",
            field=errors[0].column,
        )
    for i in issues:
        if i.action == "drop":
            X = X.drop(columns=[i.column])
        elif i.issue == "text_numeric" and i.action == "coerce" and i.column in X:
            X[i.column] = _coerce(X[i.column])
    if X.shape[1] == 0:
        raise ValidationError(
            "every feature column was dropped by the profiling step: "
            + "; ".join(f"{i.column}: {i.issue}" for i in issues),
            field="data",
        )
    counts, bad = _class_counts(labels, y)
    warnings = _size_warnings(counts, policy)
    leaks_kept = [i.column for i in issues if i.issue == "leakage" and i.action == "keep"]
    if leaks_kept:
        warnings.append(f"leakage suspects kept by the policy: {leaks_kept}")
    profile = DataProfile(
        n_rows=len(labelled), n_features=labelled.shape[1] - 1, target=str(policy.target),
        bad_label=bad, classes=counts, issues=(*named, *issues), warnings=tuple(warnings),
        rows_dropped_no_target=no_target,
    )  # fmt: skip
    return Prepared(X.reset_index(drop=True), y, profile, list(warnings))
