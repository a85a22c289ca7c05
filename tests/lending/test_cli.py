"""``finbridge lending`` and ``finbridge cob`` on a fresh data directory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from typer.testing import CliRunner

from finbridge.core.clock import SystemClock, business_date


def test_install_products_and_close_a_day(tmp_path: Path) -> None:
    from finbridge.cli.main import app

    runner = CliRunner(env={"FINBRIDGE_DATA_DIR": str(tmp_path / "var")})
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    result = runner.invoke(app, ["lending", "install"])
    assert result.exit_code == 0, result.output
    assert "2 product or policy versions added" in result.output
    assert "everyday@1" in runner.invoke(app, ["lending", "products"]).output
    assert "last closed: never" in runner.invoke(app, ["cob", "status"]).output
    # The COB runs on the real business calendar: close the day before yesterday, then
    # yesterday (the CLI's default), then nothing is left.
    today = business_date(SystemClock().now())  # in Asia/Shanghai
    two_days_ago = (today - timedelta(days=2)).isoformat()
    result = runner.invoke(app, ["cob", "run", "--until", two_days_ago])
    assert result.exit_code == 0, result.output
    assert "closed 1 day(s)" in result.output
    result = runner.invoke(app, ["cob", "run"])
    assert result.exit_code == 0 and "closed 1 day(s)" in result.output
    assert "up to date" in runner.invoke(app, ["cob", "run"]).output
    refused = runner.invoke(app, ["cob", "run", "--until", "2020-01-01"])
    assert refused.exit_code == 2 and "already ran" in refused.output
    bad = runner.invoke(app, ["cob", "run", "--until", "yesterday"])
    assert bad.exit_code == 2 and "YYYY-MM-DD" in bad.output
