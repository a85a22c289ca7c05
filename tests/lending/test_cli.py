"""``finbridge lending`` and ``finbridge cob`` on a fresh data directory."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from tests.lending.conftest import OPS
from typer.testing import CliRunner

from finbridge.core.clock import SystemClock, business_date
from finbridge.platform import Platform


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


def test_the_serve_loop_closes_finished_days(platform: Platform) -> None:
    from finbridge.cli.cob_loop import CobLoop

    loop = CobLoop(platform, interval_seconds=0.05)
    platform.clock.set(datetime(2026, 1, 9, 2, tzinfo=UTC))  # type: ignore[attr-defined]
    assert loop.run_once() == 1  # no line yet: the first run closes yesterday only
    assert str(platform.cob.status(OPS).last_done) == "2026-01-08"
    assert loop.run_once() == 0
    platform.clock.set(datetime(2026, 1, 12, 2, tzinfo=UTC))  # type: ignore[attr-defined]
    loop.start()
    deadline = time.monotonic() + 30
    while platform.cob.status(OPS).last_done != date(2026, 1, 11):
        assert time.monotonic() < deadline, "the loop did not catch up"
        time.sleep(0.05)
    loop.stop()
