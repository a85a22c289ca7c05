"""``finbridge acquisition``: commands reach the engine through the platform."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from finbridge.cli.main import app
from finbridge.platform._schema import upgrade_database
from finbridge.store.engine import make_engine


def test_cli_lists_refreshes_and_refuses_unknown_campaigns(tmp_path: Path) -> None:
    env = {"FINBRIDGE_DATA_DIR": str(tmp_path), "FINBRIDGE_ENV": "test"}
    engine = make_engine(f"sqlite:///{tmp_path / 'finbridge.db'}")
    upgrade_database(engine)
    engine.dispose()
    runner = CliRunner()
    r = runner.invoke(app, ["acquisition", "refresh"], env=env)
    assert r.exit_code == 0, r.output
    assert "0 profiles" in r.output  # no consent register entries: nobody is profiled
    r = runner.invoke(app, ["acquisition", "campaigns"], env=env)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["acquisition", "results", "no-such-campaign"], env=env)
    assert r.exit_code == 2 and "no campaign" in r.output
