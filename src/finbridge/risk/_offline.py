"""Offline work on files, for the command line: train the fraud model on the handbook's data,
register it, replay a transaction file through features, model and rules.

Each function imports what it needs when called (Polars and NumPy, then LightGBM, scikit-learn
and numba), so they can sit on the face without making ``import finbridge.risk`` heavy.
"""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finbridge.risk.decisions import default_config
from finbridge.risk.mapping import ColumnMapping
from finbridge.risk.rules import CompiledRuleSet, FeatureCatalog, RuleSetSpec, default_rule_set

if TYPE_CHECKING:
    from finbridge.risk.backtest import ReplayResult
    from finbridge.risk.models import FraudModel, Metrics

SHIPPED_MODEL = Path(__file__).parent / "artifacts" / "fraud_lgbm.json"


def compile_rule_set(spec: RuleSetSpec | None = None) -> CompiledRuleSet:
    """``spec`` (default: the built-in rule set) checked against every online feature and the
    model's features; a ``ValidationError`` names what is wrong."""
    from finbridge.risk.models import MODEL_FEATURES

    catalog = FeatureCatalog.standard(default_config().feature_names())
    catalog.numeric |= set(MODEL_FEATURES)
    return CompiledRuleSet(spec or default_rule_set(), catalog, version=0)


def replay_transactions(path: Path, rules: CompiledRuleSet) -> ReplayResult:
    """Every transaction of a handbook-layout Parquet file through features, the shipped model
    and ``rules``, in batch."""
    from finbridge.risk.backtest import replay_file
    from finbridge.risk.models import load_default_model

    return replay_file(str(path), rules, load_default_model())


def train_handbook_model(path: Path, *, rounds: int = 400) -> tuple[FraudModel, list[Metrics]]:
    """LightGBM trained on the handbook protocol, with its metrics beside the logistic
    baseline's (train 7 days, 7-day delay, test 7 days)."""
    from finbridge.risk.models import handbook_benchmark, load_handbook, model_frame

    return handbook_benchmark(model_frame(load_handbook(str(path))), rounds=rounds)


def train_file_model(
    path: Path,
    mapping: ColumnMapping,
    *,
    train_days: int = 7,
    delay_days: int = 7,
    test_days: int = 7,
    start: datetime | None = None,
    rounds: int = 400,
) -> tuple[FraudModel, list[Metrics], dict[str, Any]]:
    """The fraud model trained on a bank's own labelled history with the point-in-time
    protocol (train window, feedback delay, test window), beside the logistic baseline.

    Returns the model, both metrics and what the data held (span, frauds per window)."""
    from finbridge.core.errors import ValidationError
    from finbridge.risk.models import handbook_benchmark, model_frame, prepare
    from finbridge.risk.transactions import read_transactions, to_handbook

    for name, days in (("train_days", train_days), ("delay_days", delay_days),
                       ("test_days", test_days)):  # fmt: skip
        if not 0 <= days <= 365 or (days == 0 and name != "delay_days"):
            raise ValidationError(f"{name} must be 1-365 (delay 0-365)", field=name)
    frame = to_handbook(read_transactions(path), mapping)
    first = frame["TX_DATETIME"].min()
    last = frame["TX_DATETIME"].max()
    begin = start or datetime.combine(first.date(), time())  # type: ignore[union-attr]
    span = (last.date() - begin.date()).days + 1  # type: ignore[union-attr]
    needed = train_days + delay_days + test_days
    if span < needed:
        raise ValidationError(
            f"the file spans {span} days from {begin:%Y-%m-%d}: the protocol needs "
            f"{needed} (train {train_days} + delay {delay_days} + test {test_days}); shorten "
            "the windows",
            field="train_days",
        )
    model, metrics = handbook_benchmark(
        model_frame(prepare(frame)), begin, rounds, train_days=train_days,
        delay_days=delay_days, test_days=test_days,
    )  # fmt: skip
    facts = {
        "transactions": frame.height,
        "frauds": int(frame["TX_FRAUD"].sum()),
        "first": str(first),
        "last": str(last),
        "customers": frame["CUSTOMER_ID"].n_unique(),
        "terminals": frame["TERMINAL_ID"].n_unique(),
        "no_customer_column": mapping.customer == "none",
    }
    return model, metrics, facts


def replay_mapped(path: Path, mapping: ColumnMapping, rules: CompiledRuleSet) -> ReplayResult:
    """A bank's own transaction file (any layout, through ``mapping``) replayed like
    :func:`replay_transactions`; without a label column every event counts as genuine."""
    from finbridge.risk.backtest import replay_handbook
    from finbridge.risk.models import load_default_model
    from finbridge.risk.transactions import read_transactions, to_handbook

    frame = to_handbook(read_transactions(path), mapping, need_label=False)
    return replay_handbook(frame, rules, load_default_model())


def model_registry_dir(data_dir: Path) -> Path:
    """Where registered models live for a platform whose data directory is ``data_dir``."""
    from finbridge.risk.models import registry_dir

    return registry_dir(data_dir)


def check_model_version(version: str) -> str:
    """``version`` if it is a safe registry name, else ``ValidationError(field="version")``."""
    from finbridge.risk.models import check_version

    return check_version(version)


def register_model(
    data_dir: Path, model: FraudModel, version: str | None = None, *, replace: bool = False
) -> Path:
    """Store ``model`` in ``data_dir``'s registry as ``version`` (default: its own)."""
    from finbridge.risk.models import register_model as register

    return register(model_registry_dir(data_dir), model, version, replace=replace)
