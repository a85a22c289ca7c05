"""``finbridge events stream``: status, consume, replay against a private nats-server."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.nats_support import NatsServer
from typer.testing import CliRunner

from finbridge.cli.main import app
from finbridge.core import Settings
from finbridge.core.settings import StreamSettings
from finbridge.lake import EventLake, emit
from finbridge.lake.stream import EventStream
from finbridge.store import make_engine, unit_of_work

from .test_relay import login


def test_status_consume_and_replay(
    _sqlite_template: Path, tmp_path: Path, nats_server: NatsServer
) -> None:
    data = tmp_path / "var"
    data.mkdir()
    shutil.copyfile(_sqlite_template, data / "finbridge.db")
    env = {
        "FINBRIDGE_DATA_DIR": str(data),
        "FINBRIDGE_DATABASE_URL": None,
        "FINBRIDGE_LAKE_DIR": None,
        "FINBRIDGE_EVENT_BUS": nats_server.url,
        "COLUMNS": "200",
    }
    runner = CliRunner(env=env)
    engine = make_engine(f"sqlite:///{data / 'finbridge.db'}")
    with unit_of_work(engine) as session:
        emit(session, *[login(f"c{i}", i) for i in range(3)])
    from finbridge.core import SystemClock

    stream = EventStream.build(
        nats_server.url, StreamSettings(), engine, EventLake(data / "lake"), SystemClock()
    )
    try:
        assert stream.relay.drain().published == 3
    finally:
        stream.close()
        engine.dispose()

    with unit_of_work(make_engine(f"sqlite:///{data / 'finbridge.db'}")) as session:
        emit(session, login("late", 9))
    result = runner.invoke(app, ["events", "relay"])
    assert result.exit_code == 0, result.output
    assert "published 1 event(s) to the event bus" in result.output
    result = runner.invoke(app, ["events", "stream", "status"])
    assert result.exit_code == 0, result.output
    assert "FINBRIDGE_EVENTS" in result.output and "0 waiting, 0 refused" in result.output
    result = runner.invoke(app, ["events", "stream", "consume", "lake-writer"])
    assert result.exit_code == 0, result.output
    assert "applied 4" in result.output
    result = runner.invoke(app, ["events", "stream", "replay", "--since", "2000-01-01"])
    assert result.exit_code == 0, result.output
    assert "login" in result.output and "4" in result.output
    result = runner.invoke(app, ["events", "stream", "replay", "--since", "2026-11-01T12:00"])
    assert result.exit_code != 0 and "UTC offset" in str(result.exception)


def test_without_a_bus_the_stream_commands_say_how_to_configure_one(
    _sqlite_template: Path, tmp_path: Path
) -> None:
    data = tmp_path / "var"
    data.mkdir()
    shutil.copyfile(_sqlite_template, data / "finbridge.db")
    runner = CliRunner(env={"FINBRIDGE_DATA_DIR": str(data), "FINBRIDGE_EVENT_BUS": None})
    result = runner.invoke(app, ["events", "stream", "status"])
    assert result.exit_code != 0
    assert result.exit_code == 2 and "FINBRIDGE_EVENT_BUS" in result.stderr


@pytest.mark.slow  # the platform registers every engine's event schemas first (imports them all)
def test_serves_relay_loop_publishes_to_the_bus_and_its_consumers_feed_the_lake(
    sqlite_engine: Engine, settings: Settings, nats_server: NatsServer
) -> None:
    from finbridge.cli.relay_loop import RelayLoop
    from finbridge.core import SystemClock
    from finbridge.platform import Platform

    configured = settings.with_changes(event_bus=nats_server.url)
    platform = Platform(settings=configured, engine=sqlite_engine, clock=SystemClock())
    with unit_of_work(sqlite_engine) as session:
        emit(session, *[login(f"s{i}", i) for i in range(4)])
    loop = RelayLoop(platform, interval_seconds=0.2).start()
    try:
        lake = EventLake(platform.lake_dir)
        deadline = time.monotonic() + 60
        while lake.count() < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert lake.count() == 4
    finally:
        loop.stop()
        platform.close()
