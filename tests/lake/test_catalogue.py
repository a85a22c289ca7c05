"""The service behind the events catalogue and data-quality pages, authorised in the service."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from finbridge.core import ManualClock, Principal, Role
from finbridge.core.errors import Conflict, PermissionDenied, ValidationError
from finbridge.lake import Event, EventLake, EventService

from .conftest import T0

ANALYST = Principal.operator("op-risk", [Role.RISK_ANALYST])
ADMIN = Principal.operator("op-admin", [Role.ADMIN])
CUSTOMER = Principal.customer("c1")


def _login(i: int, at_offset: timedelta = timedelta()) -> Event:
    return Event(
        "login",
        T0 + at_offset + timedelta(seconds=i),
        {"method": "totp", "success": True},
        "t",
        f"c{i}",
    ).validated()


@pytest.fixture
def service(sqlite_engine: Engine, tmp_path: Path, clock: ManualClock) -> EventService:
    lake = EventLake(tmp_path / "lake", clock=clock)
    lake.append([_login(i) for i in range(3)], batch="good")
    future = clock.now() + timedelta(days=2) - T0
    lake.append([_login(7), _login(8, future)], batch="bad")
    return EventService(sqlite_engine, lake, clock)


def test_catalogue_lists_types_versions_counts_and_last_seen(service: EventService) -> None:
    entries = {e.event_type: e for e in service.catalogue(ANALYST)}
    login = entries["login"]
    assert login.events == 3 and login.registered  # the quarantined batch is not counted
    [v1] = login.versions
    assert (v1.version, v1.registered, v1.events) == (1, True, 3)
    assert v1.last_seen == T0 + timedelta(seconds=2)
    assert "method" in v1.fields
    assert entries["card.transaction"].events == 0  # registered, never seen


def test_batch_log_shows_passed_and_quarantined_with_reasons(service: EventService) -> None:
    batches = service.batches(ANALYST)
    statuses = {b.batch_id.split("-")[0]: b for b in batches}
    assert statuses["good"].status == "passed" and statuses["good"].events == 3
    bad = statuses["bad"]
    assert bad.status == "quarantined" and bad.events == 2
    assert any("occurred_at" in r for r in bad.reasons)
    rows = service.quarantined_rows(ANALYST, bad.batch_id)
    assert len(rows) == 2 and {"event_id", "payload", "quarantined_at"} <= set(rows[0])


def test_only_operators_read_and_only_admins_decide(service: EventService) -> None:
    with pytest.raises(PermissionDenied):
        service.catalogue(CUSTOMER)
    with pytest.raises(PermissionDenied):
        service.batches(CUSTOMER)
    [bad] = [b for b in service.batches(ANALYST) if b.status == "quarantined"]
    with pytest.raises(PermissionDenied):
        service.release(ANALYST, bad.batch_id, note="looks fine")
    with pytest.raises(ValidationError, match="why"):
        service.discard(ADMIN, bad.batch_id, note=" ")


def test_release_writes_the_batch_once_and_is_recorded(service: EventService) -> None:
    [bad] = [b for b in service.batches(ANALYST) if b.status == "quarantined"]
    record = service.release(ADMIN, bad.batch_id, note="clock skew at the partner")
    assert (record.status, record.decided_by) == ("released", "op-admin")
    assert service.lake.count("login") == 5
    again = service.release(ADMIN, bad.batch_id)  # a retried request changes nothing
    assert again.status == "released" and service.lake.count("login") == 5
    with pytest.raises(Conflict, match="released"):
        service.discard(ADMIN, bad.batch_id, note="too late")
    statuses = {b.status for b in service.batches(ANALYST)}
    assert {"passed", "released"} <= statuses
