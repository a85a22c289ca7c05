"""The composition root: settings, database engine, clock and lake location, built once.

Interfaces (API, CLI, console) build one :class:`Platform` at their entry point and pass it
down. Engines never import this module; they receive the plain parts they need.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from finbridge.core.clock import Clock, SystemClock
from finbridge.core.settings import Settings
from finbridge.store.engine import make_engine
from finbridge.store.migrate import upgrade


@dataclass
class Platform:
    settings: Settings
    engine: Engine
    clock: Clock
    # Long-lived, engine-specific state (model caches, in-process velocity windows...), keyed by
    # package name, created lazily by that package's interface code.
    state: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        clock: Clock | None = None,
        engine: Engine | None = None,
        migrate: bool = True,
    ) -> Platform:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = engine or make_engine(settings.resolved_database_url)
        if migrate:
            upgrade(engine)
        return cls(settings=settings, engine=engine, clock=clock or SystemClock())

    @property
    def lake_dir(self) -> Path:
        return self.settings.resolved_lake_dir

    def close(self) -> None:
        for value in self.state.values():
            closer = getattr(value, "close", None)
            if callable(closer):
                closer()
        self.engine.dispose()
