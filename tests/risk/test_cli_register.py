"""``finbridge risk train --register``: the trained model lands in the registry directory."""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from finbridge.cli.commands.risk import HANDBOOK_FILE
from finbridge.cli.main import app
from finbridge.risk.models import list_registered, load_registered, registry_dir


def test_train_register(tmp_path: Path) -> None:
    data = tmp_path / "data"
    shared = tmp_path / "shared"
    (shared / HANDBOOK_FILE).parent.mkdir(parents=True)
    src = resources.files("finbridge.datasets") / "fraud" / "fdh_300_customers.parquet"
    # Just the handbook split's weeks (train 7 d, delay 7 d, test 7 d from 2018-07-25).
    when = pl.col("TX_DATETIME")
    pl.read_parquet(str(src)).filter(
        (when >= datetime(2018, 7, 18)) & (when < datetime(2018, 8, 16))
    ).write_parquet(shared / HANDBOOK_FILE)
    env = {"FINBRIDGE_DATA_DIR": str(data), "COLUMNS": "200"}
    runner = CliRunner()
    base = ["risk", "train", "--data-dir", str(shared), "--rounds", "5", "--register"]

    out = runner.invoke(app, [*base, "--version", "cand-7"], env=env)
    assert out.exit_code == 0, out.output
    assert "registered cand-7" in out.output and "AUC" in out.output
    directory = registry_dir(data)
    assert [m.version for m in list_registered(directory)] == ["cand-7"]
    model = load_registered(directory, "cand-7")
    assert model.version == "cand-7" and "amount" in model.feature_names

    for extra, message in (
        (["--version", "cand-7"], "already registered"),
        (["--version", "../up"], "model version is"),
        (["--out", str(tmp_path / "m.json")], "exclude each other"),
    ):
        out = runner.invoke(app, [*base, *extra], env=env)
        assert out.exit_code == 2 and message in out.output, out.output
    out = runner.invoke(app, ["risk", "train", "--version", "x"], env=env)
    assert out.exit_code == 2 and "add --register" in out.output
    assert [m.version for m in list_registered(directory)] == ["cand-7"]
