"""The composition root: faces built once and lazily, thread-safe, closed in reverse order;
building a platform migrates nothing; the command line imports no engine."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from finbridge.core import ManualClock, Settings
from finbridge.platform import Platform, upgrade_database
from finbridge.store import make_engine

HEAVY = ("lightgbm", "sklearn", "numba", "pyspark", "dlib", "optbinning", "ibis", "fastapi")


def test_build_migrates_nothing_and_upgrade_does(tmp_path: Path, settings: Settings) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    platform = Platform.build(settings, engine=engine)
    assert inspect(engine).get_table_names() == []
    upgrade_database(platform)
    assert "banking_accounts" in inspect(engine).get_table_names()
    platform.close()


def test_faces_are_built_once_under_concurrency(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings, sqlite_engine, clock)
    seen: list[object] = []
    barrier = threading.Barrier(8)

    def grab() -> None:
        barrier.wait()
        seen.append(platform.banking)

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(face) for face in seen}) == 1
    assert platform.built_faces() == ["banking"]


def test_close_closes_faces_in_reverse_build_order(
    settings: Settings, sqlite_engine: Engine, clock: ManualClock
) -> None:
    platform = Platform(settings, sqlite_engine, clock)
    closed: list[str] = []
    for name in ("first", "second", "third"):
        face = type("Face", (), {"close": lambda self, n=name: closed.append(n)})()
        platform._face(name, lambda face=face: face)
    platform.close()
    assert closed == ["third", "second", "first"]
    with pytest.raises(RuntimeError, match="closed"):
        _ = platform.events


def test_importing_the_command_line_loads_no_engine_or_heavy_library() -> None:
    engines = ("banking", "identity", "credit", "risk", "quant", "lake")
    code = "import sys, finbridge.cli.main; print(' '.join(sorted(sys.modules)))"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    heavy = sorted({m for m in loaded if m.split(".")[0] in HEAVY})
    engine_modules = sorted(
        m
        for m in loaded
        if m.split(".")[0] == "finbridge" and m.split(".")[1:2] in [[e] for e in engines]
    )
    assert heavy == [] and engine_modules == [], (heavy, engine_modules)
