"""``finbridge risk replay|backtest``: files in the handbook layout, rule sets as JSON."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from finbridge.cli.main import app
from finbridge.risk.rules import default_rule_set


def test_replay_and_backtest_commands(tmp_path: Path, _sqlite_template: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    shutil.copyfile(_sqlite_template, data / "finbridge.db")
    env = {"FINBRIDGE_DATA_DIR": str(data), "COLUMNS": "200"}
    src = resources.files("finbridge.datasets") / "fraud" / "fdh_300_customers.parquet"
    file = tmp_path / "tx.parquet"
    pl.read_parquet(str(src)).head(20_000).write_parquet(file)
    runner = CliRunner()

    out = runner.invoke(app, ["risk", "replay", str(file)], env=env)
    assert out.exit_code == 0, out.output
    assert "20,000 events" in out.output and "events/s" in out.output

    rules = tmp_path / "rules.json"
    body = default_rule_set().to_json()
    body["rules"].append({"name": "big", "expression": "amount > 150", "weight": 40})
    rules.write_text(json.dumps(body))
    out = runner.invoke(app, ["risk", "backtest", str(rules), "--file", str(file)], env=env)
    assert out.exit_code == 0, out.output
    assert "customers_disturbed" in out.output

    rules.write_text(json.dumps({"name": "x", "rules": [{"name": "r", "expression": "amount >"}]}))
    out = runner.invoke(app, ["risk", "backtest", str(rules)], env=env)
    assert out.exit_code == 2 and "does not parse" in out.output

    out = runner.invoke(app, ["risk", "replay", str(tmp_path / "missing.parquet")], env=env)
    assert out.exit_code == 2
