"""``finbridge monitoring run|show|retrain`` on a migrated SQLite file."""

from __future__ import annotations

import shutil
from datetime import datetime
from importlib import resources
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from finbridge.cli.main import app


def test_monitor_show_and_retrain_commands(tmp_path: Path, _sqlite_template: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(_sqlite_template, data / "finbridge.db")
    env = {"FINBRIDGE_DATA_DIR": str(data), "COLUMNS": "200"}
    runner = CliRunner()

    # The shipped fraud model is live and nothing was decided: said, not an error.
    out = runner.invoke(app, ["monitoring", "run", "--day", "2026-11-02", "--days", "2"], env=env)
    assert out.exit_code == 0, out.output
    assert out.output.count("no_traffic") == 2 and "2026-11-01" in out.output
    out = runner.invoke(app, ["monitoring", "show", "--engine", "risk"], env=env)
    assert out.exit_code == 0 and out.output.count("no_traffic") == 2, out.output
    out = runner.invoke(app, ["monitoring", "show", "--engine", "quant"], env=env)
    assert out.exit_code != 0 and "engine" in out.output
    out = runner.invoke(app, ["monitoring", "run", "--day", "yesterday"], env=env)
    assert out.exit_code != 0 and "YYYY-MM-DD" in out.output

    out = runner.invoke(app, ["monitoring", "retrain"], env=env)
    assert out.exit_code != 0 and "RETRAIN_DATA" in out.output
    # From the platform's own decisions: none were made, so nothing labelled to learn from.
    out = runner.invoke(app, ["monitoring", "retrain", "--from-decisions"], env=env)
    assert out.exit_code == 2 and "labelled frauds" in out.output, out.output

    src = resources.files("finbridge.datasets") / "fraud" / "fdh_300_customers.parquet"
    file = tmp_path / "tx.parquet"
    frame = pl.read_parquet(str(src))
    frame.filter(pl.col("TX_DATETIME") < datetime(2018, 5, 6)).write_parquet(file)  # 5 weeks
    windows = {"FINBRIDGE_MONITORING__RETRAIN_HISTORY_DAYS": "14"}
    out = runner.invoke(
        app, ["monitoring", "retrain", "--data", str(file), "--as-of", "2018-05-06"],
        env={**env, **windows},
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "lgbm-20180731-400r" in out.output  # the champion, judged beside the challenger
    assert "retrain-20180506-" in out.output
    assert "promoted" in out.output or "kept in shadow" in out.output
