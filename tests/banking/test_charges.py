"""The bank's charges in bulk (``post_charges``): one entry per charge through the ledger's batch
path, the same entry a transfer under the key would be, declines that stop only themselves."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from finbridge.banking import BankCharge, BankingService, EntryKind, InternalAccount
from finbridge.banking.tables import entries_table
from finbridge.core import ManualClock, Money, Principal, Role
from finbridge.core.errors import PermissionDenied, ValidationError

from .conftest import OpenFn
from .test_guard_and_idempotency import BatchGuard


def _charge(account_id: str, amount: str, key: str) -> BankCharge:
    return BankCharge(
        account_id, Money.of(amount, "CNY"), key, InternalAccount.INTEREST_INCOME, "interest"
    )


def _entries(svc: BankingService) -> int:
    with svc.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(entries_table)).scalar_one())


def test_charges_post_once_each_and_answer_for_a_transfer_under_the_key(
    svc: BankingService, system: Principal, open_account: OpenFn
) -> None:
    a = open_account("100.00")
    b = open_account("5.00")
    before = _entries(svc)
    charges = [_charge(a.id, "1.25", "i-a"), _charge(b.id, "6.00", "i-b")]
    res = svc.post_charges(system, charges)
    # b holds 5.00 and its floor is 0: the ledger refuses its charge, a's is posted.
    assert set(res.entries) == {"i-a"} and set(res.declined) == {"i-b"}
    assert "insufficient" in res.declined["i-b"]
    assert svc.balance(system, a.id).balance == Money.of("98.75", "CNY")
    assert svc.balance(system, b.id).balance == Money.of("5.00", "CNY")
    income = svc.internal_account_id(InternalAccount.INTEREST_INCOME, "CNY")
    assert svc.balance(system, income).balance == Money.of("1.25", "CNY")
    assert _entries(svc) == before + 1
    # A retry (a resumed batch) posts nothing and finds the same entry.
    again = svc.post_charges(system, charges[:1])
    assert again.entries == res.entries and _entries(svc) == before + 1
    # The transfer the same charge would have been is a replay of the batch's entry.
    replay = svc.transfer(
        system, a.id, income, Money.of("1.25", "CNY"), idempotency_key="i-a",
        description="interest",
    )  # fmt: skip
    assert replay.entry_id == res.entries["i-a"] and replay.kind is EntryKind.TRANSFER
    # The same key for another amount is declined, not posted.
    other = svc.post_charges(system, [_charge(a.id, "2.00", "i-a")])
    assert not other.entries and "conflict" in other.declined["i-a"]
    assert svc.verify_ledger(system).ok


def test_only_the_platform_charges_and_bad_input_names_the_field(
    lite: BankingService, system: Principal, open_lite: OpenFn
) -> None:
    a = open_lite("10.00")
    with pytest.raises(PermissionDenied):
        lite.post_charges(Principal.operator("t", [Role.TELLER]), [_charge(a.id, "1", "k")])
    with pytest.raises(ValidationError) as exc:
        lite.post_charges(system, [_charge(a.id, "1", "k"), _charge(a.id, "-1", "k2")])
    assert exc.value.field == "charges[1].amount"
    assert lite.balance(system, a.id).balance == Money.of("10.00", "CNY")  # nothing half-done
    # A bank's own account is never charged this way.
    income = lite.internal_account_id(InternalAccount.INTEREST_INCOME, "CNY")
    res = lite.post_charges(system, [_charge(income, "1", "k3")])
    assert "not_found" in res.declined["k3"]


def test_the_guard_decides_the_batch_at_once_and_hears_how_each_ended(
    sqlite_engine: Engine, clock: ManualClock
) -> None:
    guard = BatchGuard(refuse={"c-2"})
    svc = BankingService(sqlite_engine, clock, guard=guard)
    system = Principal.system("test")
    cid = svc.create_customer(system, kind="personal", display_name="G").id
    ids = [svc.open_account(system, cid, kind="current", currency_code="CNY").id for _ in "abc"]
    for n, acc in enumerate(ids):
        svc.deposit(system, acc, Money.of("10", "CNY"), idempotency_key=f"fund-{n}")
    charges = [_charge(acc, "20" if n == 1 else "1", f"c-{n}") for n, acc in enumerate(ids)]
    res = svc.post_charges(system, charges)
    assert guard.batches == [3]  # one decision call for the batch
    assert set(res.entries) == {"c-0"}
    assert "block list" in res.declined["c-2"] and "insufficient" in res.declined["c-1"]
    settled = {s.key: (s.posted, s.reason) for s in guard.settled}
    assert settled["c-0"] == (True, None)
    assert settled["c-1"][0] is False and "insufficient" in str(settled["c-1"][1])
    assert "c-2" not in settled  # declined by the guard: nothing to settle
