import itertools
import os
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest

import finbridge.core.ids as id_source
from finbridge.core import (
    ManualClock,
    Principal,
    Role,
    business_date,
    is_valid_id,
    new_id,
    new_secret_id,
)
from finbridge.core.errors import PermissionDenied


def test_ids_are_unique_and_time_ordered() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(is_valid_id(i) for i in ids[:10])
    assert not is_valid_id("not-an-id")


def test_secret_ids_are_random_version_4_uuids() -> None:
    ids = [new_secret_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    parsed = [uuid.UUID(i) for i in ids]
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert all(is_valid_id(i) for i in ids)
    # Nothing time-ordered about them: 2,000 sorted by chance has odds of 1 in 2000!.
    assert ids != sorted(ids)
    # Every one of the 122 random bits varies across the sample (a fixed bit would mean fewer).
    fixed = (1 << 128) - 1
    for a, b in itertools.pairwise(parsed):
        fixed &= ~(a.int ^ b.int)
    version_and_variant = (0xF << 76) | (0x3 << 62)
    assert fixed == version_and_variant


def _random_bits(value: str) -> int:
    return int(value.replace("-", ""), 16) & ((1 << 62) - 1)


@pytest.mark.skipif(sys.platform == "win32", reason="fork is POSIX")
def test_a_forked_child_draws_its_own_random_bits() -> None:
    # Random bits come from a block of OS randomness read 8 bytes an id: a child that kept
    # the parent's unread bytes would make the parent's next ids (same millisecond, same
    # counter), so the child starts with no block.
    new_id()
    if id_source._taken == len(id_source._pool):  # the block just ran out: start the next one
        new_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids' random bits to the parent, then gone
        try:
            os.close(read)
            os.write(write, ",".join(str(_random_bits(new_id())) for _ in range(8)).encode())
        finally:
            os._exit(0)
    os.close(write)
    parents = {_random_bits(new_id()) for _ in range(8)}
    with os.fdopen(read) as pipe:
        child = {int(x) for x in pipe.read().split(",")}
    os.waitpid(pid, 0)
    assert len(child) == 8 and len(parents) == 8
    assert not parents & child


def test_manual_clock_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        ManualClock(datetime(2026, 1, 1))


def test_business_date_uses_shanghai_by_default() -> None:
    # 17:30 UTC is already the next day in Asia/Shanghai (UTC+8).
    instant = datetime(2026, 11, 24, 17, 30, tzinfo=timezone.utc)
    assert business_date(instant).isoformat() == "2026-11-25"
    clock = ManualClock(instant)
    clock.advance(timedelta(hours=1))
    assert clock.now() == instant + timedelta(hours=1)


def test_customer_principal_acts_only_for_itself() -> None:
    me = Principal.customer("c-1")
    assert me.can_act_for("c-1")
    assert not me.can_act_for("c-2")
    with pytest.raises(PermissionDenied, match="lacks scope 'risk:write'"):
        me.require_scope("risk:write")


def test_operator_scopes_come_from_roles() -> None:
    teller = Principal.operator("op-1", [Role.TELLER])
    assert teller.has_scope("transfers:write")
    assert not teller.has_scope("risk:write")
    assert Principal.operator("op-2", [Role.ADMIN]).has_scope("anything:at-all")


def test_quant_researcher_runs_backtests_but_moves_no_money() -> None:
    researcher = Principal.operator("op-3", [Role.QUANT_RESEARCHER])
    assert researcher.has_scope("quant:run")
    assert not researcher.has_scope("quant:admin")
    assert not researcher.has_scope("transfers:write")


def test_credit_officer_scores_and_promotes_models_only() -> None:
    officer = Principal.operator("op-4", [Role.CREDIT_OFFICER])
    assert officer.has_scope("credit:score")
    assert officer.has_scope("credit:write")
    assert not officer.has_scope("accounts:write")
