"""The scorecard's training set from the feature store: the customers' recorded attributes
joined point in time with default labels at the instant each score was made (the Taiwan
clients), a recording made after the scores planted as a perfect leak and never used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import ibis
import pandas as pd
import pyarrow as pa
import pytest
from sqlalchemy import Engine

from finbridge.core import ManualClock, Principal, Role, Settings
from finbridge.core.errors import PermissionDenied, ValidationError
from finbridge.credit.datasets import TAIWAN_TARGET, taiwan
from finbridge.lake.featurestore import (
    CREDIT_VIEW,
    FeatureRegistry,
    FeatureStore,
    credit_profile_view,
)
from finbridge.platform import Platform

RECORDED = datetime(2005, 9, 30, tzinfo=UTC)  # the statements the Taiwan columns describe
SCORED = datetime(2005, 10, 1, tzinfo=UTC)  # when the bank scored each client
LEAKED = datetime(2005, 10, 20, tzinfo=UTC)  # a recording made after the score
OFFICER = Principal.operator("officer-1", [Role.CREDIT_OFFICER])


@pytest.mark.slow  # a scorecard fit (optbinning) on 2,000 clients: ~15 s at load 14
def test_the_scorecard_trains_on_attributes_recorded_before_each_score(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock, tmp_path: Path
) -> None:
    # The store's feature names are snake_case: Taiwan's columns, lower-cased.
    data = taiwan().head(2_000).rename(columns=lambda c: c if c == TAIWAN_TARGET else c.lower())
    features = [c for c in data.columns if c not in ("id", TAIWAN_TARGET)]
    ids = data["id"].astype(str)
    recorded = data[features].assign(customer_id=ids, occurred_at=RECORDED)
    # The planted leak: a later recording whose pay_0 is the label itself.
    leak = recorded.assign(occurred_at=LEAKED, pay_0=data[TAIWAN_TARGET] * 9)
    rows = pa.Table.from_pandas(pd.concat([recorded, leak]), preserve_index=False)
    store = FeatureStore(
        FeatureRegistry([credit_profile_view(features)]), tmp_path / "features",
        clock=ManualClock(datetime(2005, 11, 1, tzinfo=UTC)),
    )  # fmt: skip
    store.materialize(CREDIT_VIEW, ibis.duckdb.connect().create_table("recorded", rows))
    labels = pd.DataFrame(
        {"customer_id": ids, "label_time": [SCORED] * len(ids), TAIWAN_TARGET: data[TAIWAN_TARGET]}
    )

    # The training set is the recording before the score, row for row; the leak is not in it.
    joined = store.training_set(labels, [CREDIT_VIEW]).to_pandas()
    assert (joined[features].to_numpy() == recorded[features].astype(float).to_numpy()).all()

    credit = Platform(settings=settings, engine=sqlite_engine, clock=clock).credit
    version = credit.train_from_features(
        OFFICER, store, labels, name="taiwan-fs", target=TAIWAN_TARGET
    )
    assert version.n_train > 1_000 and "pay_0" in version.features
    # Taiwan's attributes separate defaults at an AUC about 0.75; the leak would give ~1.
    assert 0.6 < version.metrics["auc"] < 0.9

    with pytest.raises(ValidationError, match="2000 of 2000 labels have no attributes"):
        credit.train_from_features(
            OFFICER, store, labels.assign(label_time=RECORDED - timedelta(days=1)),
            name="taiwan-fs", target=TAIWAN_TARGET,
        )  # fmt: skip
    with pytest.raises(PermissionDenied):
        credit.train_from_features(
            Principal.operator("t", [Role.TELLER]), store, labels, name="x", target=TAIWAN_TARGET
        )


def test_credit_train_from_features_on_the_command_line(tmp_path: Path) -> None:
    """``finbridge credit train --from-features``: a table's attributes recorded at one instant,
    its labels joined at the score's; the model keeps the table's column names (the live
    scorer is called with them). Attributes recorded after a score are never used: labels with
    nothing recorded before them are refused, exit code 2 and no version."""
    from typer.testing import CliRunner

    from finbridge.cli.main import app

    runner = CliRunner(env={"FINBRIDGE_DATA_DIR": str(tmp_path / "var")})
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    data = taiwan().head(1_500)
    late = data.assign(recorded_at=[RECORDED] * 1_400 + [LEAKED] * 100)
    table = tmp_path / "clients.parquet"
    late.to_parquet(table)
    common = ["credit", "train", "--data", str(table), "--target", TAIWAN_TARGET,
              "--name", "taiwan-recorded", "--kind", "lightgbm", "--id-column", "ID",
              "--from-features", "--scored-at", SCORED.isoformat()]  # fmt: skip

    refused = runner.invoke(app, common)  # --recorded-at: the table's recorded_at column
    assert refused.exit_code == 2, refused.output
    assert "100 of 1500 labels have no attributes in credit_profile_taiwan_recorded:v1" in (
        " ".join(refused.output.split())
    )
    good = runner.invoke(app, [*common, "--recorded-at", RECORDED.isoformat(), "--drop",
                               "recorded_at"])  # fmt: skip
    assert good.exit_code == 0, good.output
    out = " ".join(good.output.split())
    assert "taiwan-recorded v1" in out and "PAY_0" in out and "pay_0" not in out
    auc = float(out.split("held-out AUC ")[1].split()[0])
    assert 0.6 < auc < 0.9  # Taiwan's attributes, not a leak
    listed = runner.invoke(app, ["credit", "models"])
    assert "taiwan-recorded" in listed.output and listed.output.count("taiwan-recorded") == 1
