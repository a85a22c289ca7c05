"""``finbridge lake``: migrate an old lake, history, optimize, vacuum, and SQL as of a version."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from finbridge.cli.main import app
from finbridge.lake import Event
from finbridge.lake.legacy import write_legacy_batch

from .conftest import T0


@pytest.fixture
def data_dir(_sqlite_template: Path, tmp_path: Path) -> Path:
    data = tmp_path / "var"
    data.mkdir()
    shutil.copyfile(_sqlite_template, data / "finbridge.db")
    return data


@pytest.fixture
def runner(data_dir: Path) -> CliRunner:
    return CliRunner(
        env={
            "FINBRIDGE_DATA_DIR": str(data_dir),
            "FINBRIDGE_DATABASE_URL": None,
            "FINBRIDGE_LAKE_DIR": None,
            "COLUMNS": "200",
        }
    )


def _logins(n: int, start: int = 0) -> list[Event]:
    return [
        Event(
            "login", T0 + timedelta(minutes=i), {"method": "totp", "success": True}, "t", f"c{i}"
        ).validated()
        for i in range(start, start + n)
    ]


def test_migrate_history_optimize_and_time_travel(runner: CliRunner, data_dir: Path) -> None:
    write_legacy_batch(data_dir / "lake", _logins(4), batch="outbox-1")
    refused = runner.invoke(app, ["events", "query", "SELECT count(*) AS n FROM events"])
    assert refused.exit_code != 0 and "lake migrate" in refused.output
    first = runner.invoke(app, ["lake", "migrate"])
    assert first.exit_code == 0, first.output
    assert "migrated: 4 event(s)" in first.output
    again = runner.invoke(app, ["lake", "migrate"])
    assert again.exit_code == 0 and "already" in again.output
    from finbridge.lake import EventLake

    EventLake(data_dir / "lake").append(_logins(2, start=10), batch="later")
    history = runner.invoke(app, ["lake", "history"])
    assert history.exit_code == 0 and "WRITE" in history.output
    assert "migrate-legacy-parquet" in history.output
    now = runner.invoke(app, ["events", "query", "SELECT count(*) AS n FROM events"])
    then = runner.invoke(
        app, ["events", "query", "SELECT count(*) AS n FROM events", "--as-of-version", "0"]
    )
    assert "6" in now.output and "4" in then.output and "6" not in then.output
    optimize = runner.invoke(app, ["lake", "optimize"])
    assert optimize.exit_code == 0 and "compacted" in optimize.output
    vacuum = runner.invoke(app, ["lake", "vacuum", "--dry-run"])
    assert vacuum.exit_code == 0 and "would delete 0 file(s)" in vacuum.output
    batches = runner.invoke(app, ["lake", "batches"])
    assert batches.exit_code == 0 and "passed" in batches.output
