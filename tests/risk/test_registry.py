"""The risk model registry: safe version names, atomic registration, loading, audited shadowing."""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.risk.conftest import payment
from tests.risk.registry_support import tiny_model

from finbridge.core import ManualClock, Principal
from finbridge.core.errors import Conflict, NotFound, PermissionDenied, ValidationError
from finbridge.core.principal import PrincipalKind
from finbridge.core.settings import RiskSettings
from finbridge.lake.tables import OutboxRow
from finbridge.risk import RiskService
from finbridge.risk.decisions import DecisionMaker
from finbridge.risk.models import (
    Pointers,
    change_pointers,
    check_version,
    list_registered,
    load_registered,
    read_pointers,
    register_model,
    registry_dir,
)
from finbridge.store.engine import unit_of_work


@pytest.mark.parametrize(
    "version",
    ["lgbm-20180731-400r", "v2", "model_1.2", "A" * 100],
)
def test_valid_versions(version: str) -> None:
    assert check_version(version) == version


@pytest.mark.parametrize(
    "version",
    ["", "../secret", "a/b", "a\\b", ".hidden", "a..b", "-x", "x" * 101, "x\x00", "x y", "é"],
)
def test_unsafe_versions_are_refused(version: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as err:
        check_version(version)
    assert err.value.field == "version"
    with pytest.raises(ValidationError):
        load_registered(tmp_path, version)


def test_register_list_load_round_trip(tmp_path: Path) -> None:
    directory = registry_dir(tmp_path)
    assert directory == tmp_path / "risk" / "models"
    assert list_registered(directory) == []  # no directory yet: nothing registered
    model = tiny_model("ignored-name")
    path = register_model(directory, model, "cand-1")
    assert path == directory / "cand-1.json" and model.version == "cand-1"
    with pytest.raises(Conflict, match="already registered"):
        register_model(directory, tiny_model(), "cand-1")
    os.utime(path, (1_000_000_000, 1_000_000_000))  # older than the next one
    register_model(directory, tiny_model("cand-2"))
    # Junk beside the models is never listed: temporary files, bad names, other suffixes.
    (directory / ".cand-3.json.tmp").write_text("{}")
    (directory / "..json").write_text("{}")
    (directory / "notes.txt").write_text("x")
    (directory / "sub.json").mkdir()
    assert [m.version for m in list_registered(directory)] == ["cand-2", "cand-1"]
    assert list_registered(directory)[1].size_bytes == path.stat().st_size

    loaded = load_registered(directory, "cand-1")
    features = {"amount": 550.0, "customer_count_1h": 0.3}
    assert loaded.version == "cand-1"
    assert loaded.score(features) == pytest.approx(model.score(features), abs=1e-12)
    assert loaded.score({"amount": 550.0}) > loaded.score({"amount": 20.0})

    with pytest.raises(NotFound):
        load_registered(directory, "cand-9")
    (directory / "broken.json").write_text('{"version": "broken"}')
    with pytest.raises(ValidationError, match="cannot be loaded"):
        load_registered(directory, "broken")


def test_shadowing_a_registered_model_is_audited_and_scores_beside_live(
    sqlite_risk: DecisionMaker, sqlite_engine, clock: ManualClock, analyst: Principal,
    system: Principal, tmp_path: Path,
) -> None:  # fmt: skip
    directory = registry_dir(tmp_path)
    register_model(directory, tiny_model("cand-1"))
    model = load_registered(directory, "cand-1")
    service = RiskService(
        sqlite_engine, clock, RiskSettings(), data_dir=tmp_path, decisions=sqlite_risk
    )

    read_only = Principal(PrincipalKind.OPERATOR, "viewer", frozenset({"risk:read"}))
    with pytest.raises(PermissionDenied):
        service.start_shadow_model(read_only, "cand-1")
    with pytest.raises(PermissionDenied):
        service.stop_shadow_model(read_only)
    assert sqlite_risk.shadow_model is None

    assert service.start_shadow_model(analyst, "cand-1") is None
    d = sqlite_risk.decide(system, payment(clock, amount="550.00"))
    assert d.model_version == "none" and d.ml_score is None  # live: no model, nothing changes
    assert d.shadow is not None and d.shadow.model_version == "cand-1"
    assert d.shadow.ml_score == pytest.approx(model.score(d.features))

    register_model(directory, tiny_model("cand-2", seed=5))
    assert service.start_shadow_model(analyst, "cand-2") == "cand-1"
    assert service.stop_shadow_model(analyst) == "cand-2"
    assert service.stop_shadow_model(analyst) is None  # nothing running: no event
    assert sqlite_risk.shadow_model is None

    with unit_of_work(sqlite_engine, write=False) as s:
        events = [
            (e.event_type, e.payload)
            for e in s.scalars(
                select(OutboxRow)
                .where(OutboxRow.event_type.like("risk.shadow_model_%"))
                .order_by(OutboxRow.seq)
            )
        ]
    assert events == [
        ("risk.shadow_model_started", {"version": "cand-1", "previous": None, "started_by": "ana"}),
        (
            "risk.shadow_model_started",
            {"version": "cand-2", "previous": "cand-1", "started_by": "ana"},
        ),
        ("risk.shadow_model_stopped", {"version": "cand-2", "stopped_by": "ana"}),
    ]


def test_pointers_change_together_or_not_at_all(tmp_path: Path) -> None:
    assert read_pointers(tmp_path) == Pointers()  # never written: says nothing
    with change_pointers(tmp_path) as box:
        box[0] = replace(box[0], champion="v2", shadow="", rollback="v1")
    assert read_pointers(tmp_path) == Pointers(champion="v2", shadow="", rollback="v1")
    # A change that fails half-way (here: an unsafe name) writes none of it.
    with pytest.raises(ValidationError), change_pointers(tmp_path) as box:
        box[0] = replace(box[0], champion="v3", rollback="../etc")
    assert read_pointers(tmp_path) == Pointers(champion="v2", shadow="", rollback="v1")
    with pytest.raises(RuntimeError), change_pointers(tmp_path) as box:
        box[0] = replace(box[0], champion="v3")
        raise RuntimeError("the audit could not be written")
    assert read_pointers(tmp_path).champion == "v2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".pointers.lock", "POINTERS"]


def test_a_second_change_waits_for_the_first(tmp_path: Path) -> None:
    # Two promotions at once (threads here; processes take the same flock) must not both read
    # the old pointers and each write its own: the second reads what the first wrote.
    holding, release = threading.Event(), threading.Event()
    seen: list[Pointers] = []

    def first() -> None:
        with change_pointers(tmp_path) as box:
            holding.set()
            release.wait(10)
            box[0] = replace(box[0], champion="a", rollback="")

    def second() -> None:
        with change_pointers(tmp_path) as box:
            seen.append(box[0])
            box[0] = replace(box[0], shadow="b")

    one = threading.Thread(target=first)
    one.start()
    assert holding.wait(10)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.3)
    assert two.is_alive() and seen == []  # still waiting for the lock
    release.set()
    one.join(10)
    two.join(10)
    assert seen == [Pointers(champion="a", rollback="")]
    assert read_pointers(tmp_path) == Pointers(champion="a", shadow="b", rollback="")
