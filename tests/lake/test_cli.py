"""``finbridge events``: ingest a file, query the lake, relay the outbox."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from tests.settings_support import test_settings as make_settings
from typer.testing import CliRunner

from finbridge.cli.main import app
from finbridge.lake import Event, EventLake, emit
from finbridge.lake.legacy import write_legacy_batch
from finbridge.store import make_engine, unit_of_work

from .conftest import T0, card_payload


@pytest.fixture
def data_dir(_sqlite_template: Path, tmp_path: Path) -> Path:
    data = tmp_path / "var"
    data.mkdir()
    shutil.copyfile(_sqlite_template, data / "finbridge.db")
    return data


@pytest.fixture
def runner(data_dir: Path) -> CliRunner:
    """The command line's input is its environment: given to the runner for each invocation
    (the test process's own environment is left alone)."""
    return CliRunner(
        env={
            "FINBRIDGE_DATA_DIR": str(data_dir),
            "FINBRIDGE_DATABASE_URL": None,
            "FINBRIDGE_LAKE_DIR": None,
            "COLUMNS": "200",
        }
    )


def test_ingest_then_query(runner: CliRunner, tmp_path: Path) -> None:
    rows = [
        {
            "id": f"r{i}",
            "event_type": "card.transaction",
            "schema_version": 1,
            "occurred_at": "2026-11-01T08:00:00+08:00",
            "subject_id": "c7",
            "payload": card_payload(f"r{i}", "c7", "3.50"),
        }
        for i in range(3)
    ]
    feed = tmp_path / "feed.jsonl"
    feed.write_text("\n".join(json.dumps(r) for r in rows) + "\nnot json\n")
    result = runner.invoke(app, ["events", "ingest", str(feed), "--source", "acme"])
    assert result.exit_code == 0, result.output
    assert "accepted" in result.output and "malformed JSON" in result.output
    assert "rejections" in result.output

    result = runner.invoke(app, ["events", "query", "--type", "card.transaction"])
    assert result.exit_code == 0, result.output
    assert result.output.count("card.transaction") == 3
    result = runner.invoke(
        app, ["events", "query", "SELECT subject_id, count(*) AS n FROM events GROUP BY 1"]
    )
    assert result.exit_code == 0, result.output
    assert "c7" in result.output and "3" in result.output

    result = runner.invoke(
        app, ["events", "features", "--as-of", "2026-11-02T00:00:00Z", "--customer", "c7"]
    )
    assert result.exit_code == 0, result.output
    assert "10.5000" in result.output and "3.5000" in result.output  # sum and avg of 3 x 3.50
    result = runner.invoke(app, ["events", "features", "--as-of", "2026-11-02T00:00:00"])
    assert result.exit_code == 2 and "UTC offset" in result.output


def test_bad_input_exits_2_with_a_clear_message(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["events", "query", "DELETE FROM events"])
    assert result.exit_code == 2
    assert "only a single SELECT" in result.output
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    result = runner.invoke(app, ["events", "ingest", str(empty)])
    assert result.exit_code == 2 and "no rows" in result.output


def test_relay_drains_the_outbox(runner: CliRunner, data_dir: Path) -> None:
    engine = make_engine(make_settings(data_dir).resolved_database_url)
    with unit_of_work(engine) as session:
        emit(session, Event("app.opened", T0, {"app_version": "1.0", "platform": "ios"}, "t", "c1"))
    engine.dispose()
    result = runner.invoke(app, ["events", "relay"])
    assert result.exit_code == 0, result.output
    assert "published 1 event(s)" in result.output
    result = runner.invoke(app, ["events", "query", "--subject", "c1", "--since", "2026-11-01"])
    assert "app.opened" in result.output


# -- finbridge lake: migrate an old lake, history, optimize, vacuum, SQL as of a version --


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
