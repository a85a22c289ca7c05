from datetime import datetime, timedelta, timezone

import pytest

from finbridge.core import ManualClock, Principal, Role, business_date, is_valid_id, new_id
from finbridge.core.errors import PermissionDenied


def test_ids_are_unique_and_time_ordered() -> None:
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    assert all(is_valid_id(i) for i in ids[:10])
    assert not is_valid_id("not-an-id")


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
