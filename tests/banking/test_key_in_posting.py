"""An unguarded movement checks its idempotency key inside the posting itself: the stored
answer (a result or a refusal) comes back whatever the accounts look like now, and a retry
writes nothing. Both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from finbridge.banking import BankingService
from finbridge.banking.tables import entries_table
from finbridge.core import (
    BusinessRuleViolation,
    IdempotencyConflict,
    InsufficientFunds,
    Money,
    Principal,
)

from .conftest import OpenFn


def _entries(svc: BankingService) -> int:
    with svc.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(entries_table)).scalar_one())


def test_a_stored_refusal_stands_while_the_legs_are_still_refused(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    src, dst = open_account("10"), open_account()
    amount = Money.of("50", "CNY")
    with pytest.raises(InsufficientFunds, match=r"10\.00 CNY available") as first:
        svc.transfer(system, src.id, dst.id, amount, idempotency_key="k")
    before = _entries(svc)
    with pytest.raises(BusinessRuleViolation, match=r"10\.00 CNY available") as retry:
        svc.transfer(system, src.id, dst.id, amount, idempotency_key="k")
    assert (retry.value.code, retry.value.detail) == (first.value.code, first.value.detail)
    assert retry.value.extra.get("replayed") is True  # the stored refusal, not a new one
    assert _entries(svc) == before


def test_a_used_key_returns_its_result_after_the_money_is_gone(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    src, dst = open_account("60"), open_account()
    amount = Money.of("50", "CNY")
    posted = svc.transfer(system, src.id, dst.id, amount, idempotency_key="k")
    before = _entries(svc)
    again = svc.transfer(system, src.id, dst.id, amount, idempotency_key="k")  # 10 left
    assert again.entry_id == posted.entry_id
    assert _entries(svc) == before
    assert svc.balance(system, src.id).balance == Money.of("10", "CNY")
    with pytest.raises(IdempotencyConflict, match="different request"):
        svc.transfer(system, src.id, dst.id, Money.of("5", "CNY"), idempotency_key="k")
