"""The training policy: what to do with each kind of data problem, from flags or a YAML file.

Defaults let a typical file train on the first run (unusable columns dropped, numbers stored as
text coerced, unseen categories scored as missing) while refusing what would give a silently
wrong model (too few rows per class), unless the user says to go on with a stored warning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticError

from finbridge.core.errors import ValidationError

Action = Literal["drop", "error", "keep"]


class TrainingPolicy(BaseModel):
    """Everything ``credit train`` can be told; a YAML config file holds the same keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    target: str | None = None
    name: str | None = None
    kind: Literal["scorecard", "lightgbm"] = "scorecard"
    seed: int = 0
    holdout: float = Field(default=0.25, ge=0.05, le=0.5)
    bad_label: str | int | bool | None = None
    id_columns: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    constant: Action = "drop"
    all_null: Action = "drop"
    id_like: Action = "drop"
    # A feature that alone separates the classes almost perfectly is far likelier an outcome
    # recorded after the fact than a real predictor: dropped unless the user keeps it.
    leakage: Action = "drop"
    text_numeric: Literal["coerce", "keep", "error"] = "coerce"
    # Categories the training rows never had: in the held-out rows (a split artefact, scored
    # as missing and counted in the report by default) and in live scoring (an applicant's
    # new category is refused by default, naming the column, rather than scored as average).
    unseen: Literal["missing", "error"] = "missing"
    unseen_scoring: Literal["missing", "error"] = "error"
    leakage_auc: float = Field(default=0.98, gt=0.5, le=1.0)
    text_numeric_share: float = Field(default=0.95, gt=0.5, le=1.0)
    min_class_rows_train: int = Field(default=30, ge=1)
    min_class_rows_holdout: int = Field(default=10, ge=1)
    small_data: Literal["refuse", "warn"] = "refuse"

    def merged(self, **overrides: Any) -> TrainingPolicy:
        """This policy with the given (not-None) values replaced, validated again."""
        data = self.model_dump()
        data.update({k: v for k, v in overrides.items() if v is not None})
        return policy_from(data, source="options")


def policy_from(data: dict[str, Any], *, source: str) -> TrainingPolicy:
    """Validate a mapping into a policy; the first bad key is named in the error."""
    try:
        return TrainingPolicy.model_validate(data)
    except PydanticError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "config"
        raise ValidationError(f"{source}: {err['msg']}", field=key) from None


def load_policy(path: Path | str) -> TrainingPolicy:
    """Read a YAML training config (the keys of :class:`TrainingPolicy`)."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"no config file at {p}", field="config")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise ValidationError(f"{p.name} is not valid YAML: {first}", field="config") from None
    if not isinstance(data, dict):
        raise ValidationError(f"{p.name} must be a mapping of settings", field="config")
    return policy_from(data, source=p.name)
