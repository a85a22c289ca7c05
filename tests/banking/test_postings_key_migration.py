"""banking_0007: on PostgreSQL the postings are keyed by (account_id, id); rows and rules kept."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError
from tests.migration_support import alembic

from finbridge.banking import BankingService
from finbridge.core import ManualClock, Money, Principal
from finbridge.platform import upgrade_database

from .conftest import _opener

_POSTINGS = "SELECT id, entry_id, account_id, currency, amount_minor, balance_after_minor" \
    " FROM banking_postings ORDER BY id"  # fmt: skip


def _rows(engine: Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(_POSTINGS))]


def test_postings_keep_their_rows_history_and_key(engine: Engine, clock: ManualClock) -> None:
    system = Principal.system("test")
    alembic(engine, "downgrade", "banking_0006")
    try:
        svc = BankingService(engine, clock)
        open_account = _opener(svc, system)
        a, b = open_account("100.00"), open_account("5.00")
        for i in range(3):
            svc.transfer(system, a.id, b.id, Money.of("1.25", "CNY"), idempotency_key=f"m{i}")
        before = _rows(engine)
        alembic(engine, "upgrade", "heads")
    finally:
        upgrade_database(engine)
    assert _rows(engine) == before and len(before) == 10  # two deposits, three transfers

    key = inspect(engine).get_pk_constraint("banking_postings")["constrained_columns"]
    indexes = {i["name"] for i in inspect(engine).get_indexes("banking_postings")}
    if engine.dialect.name == "postgresql":
        assert key == ["account_id", "id"]
        assert "ix_banking_postings_account" not in indexes
    else:  # SQLite: id is the rowid; the account index stays
        assert key == ["id"]
        assert "ix_banking_postings_account" in indexes

    # The ledger still works on the new key: a posting, the history's pages, the checks.
    svc = BankingService(engine, clock)
    svc.transfer(system, b.id, a.id, Money.of("0.50", "CNY"), idempotency_key="after")
    first = svc.account_activity(system, a.id, limit=2)[1]
    older = svc.account_activity(system, a.id, limit=2, cursor=first.next_cursor)[1]
    assert [i.amount.minor for i in first.items + older.items] == [50, -125, -125, -125]
    assert svc.verify_ledger(system).ok

    # A posting row written twice under its key is refused by the key, not only by triggers.
    id_, _, account_id, currency, amount, balance = before[-1]
    with pytest.raises(IntegrityError, match=r"pk_banking_postings|UNIQUE"), engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO banking_postings (id, entry_id, account_id, currency, amount_minor,"
                " balance_after_minor) VALUES (:id, :entry, :account, :cur, :amount, :balance)"
            ),
            {"id": id_, "entry": "not-sealed-yet", "account": account_id, "cur": currency,
             "amount": amount, "balance": balance},
        )  # fmt: skip
