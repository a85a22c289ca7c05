"""The database itself refuses broken ledgers, even when the service is bypassed with raw SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from finbridge.banking import BankingService
from finbridge.core import Money, Principal, new_id

from .conftest import OpenFn

POST = text(
    "INSERT INTO banking_postings (entry_id, account_id, currency, amount_minor,"
    " balance_after_minor) VALUES (:e, :a, :c, :m, 0)"
)
ENTRY = text(
    "INSERT INTO banking_journal_entries (id, kind, idempotency_key, request_fingerprint,"
    " result, description, actor_id, created_at)"
    " VALUES (:e, 'transfer', :k, 'x', '{}', '', 'raw', CURRENT_TIMESTAMP)"
)


@pytest.fixture
def two(open_account: OpenFn) -> tuple[str, str]:
    return open_account("100").id, open_account("100").id


def _write(engine: Engine, *statements: tuple[text, dict]) -> None:  # type: ignore[valid-type]
    with engine.begin() as conn:
        for stmt, params in statements:
            conn.execute(stmt, params)


def test_unbalanced_entry_is_refused(svc: BankingService, two: tuple[str, str]) -> None:
    a, b = two
    e = new_id()
    with pytest.raises(DBAPIError, match="does not balance"):
        _write(
            svc.engine,
            (POST, {"e": e, "a": a, "c": "CNY", "m": -100}),
            (POST, {"e": e, "a": b, "c": "CNY", "m": 50}),
            (ENTRY, {"e": e, "k": f"raw-{e}"}),
        )


def test_balanced_raw_entry_is_accepted_so_the_refusals_above_are_meaningful(
    svc: BankingService, two: tuple[str, str]
) -> None:
    a, b = two
    e = new_id()
    _write(
        svc.engine,
        (POST, {"e": e, "a": a, "c": "CNY", "m": -100}),
        (POST, {"e": e, "a": b, "c": "CNY", "m": 100}),
        (ENTRY, {"e": e, "k": f"raw-{e}"}),
    )
    # ... but balances were not moved with it: verify_ledger reports exactly that drift.
    report = svc.verify_ledger(Principal.system())
    assert {d[0] for d in report.drifted_accounts} == {a, b}


def test_postings_without_a_sealing_entry_fail_at_commit(
    svc: BankingService, two: tuple[str, str]
) -> None:
    a, b = two
    e = new_id()
    with pytest.raises(DBAPIError, match=r"(?i)foreign key|violates"):
        _write(
            svc.engine,
            (POST, {"e": e, "a": a, "c": "CNY", "m": -100}),
            (POST, {"e": e, "a": b, "c": "CNY", "m": 100}),
        )


def test_postings_cannot_be_appended_to_a_sealed_entry(
    svc: BankingService, two: tuple[str, str]
) -> None:
    a, b = two
    done = svc.transfer(Principal.system(), a, b, Money.of("1", "CNY"), idempotency_key="t")
    with pytest.raises(DBAPIError, match=r"sealed|does not balance"):
        _write(svc.engine, (POST, {"e": done.entry_id, "a": a, "c": "CNY", "m": 5}))


APPEND_ONLY = [
    "UPDATE banking_postings SET amount_minor = amount_minor * 2",
    "DELETE FROM banking_postings",
    "UPDATE banking_journal_entries SET description = 'edited'",
    "DELETE FROM banking_journal_entries",
]


def test_ledger_rows_are_append_only(svc: BankingService, two: tuple[str, str]) -> None:
    # One database for the four statements: the PostgreSQL fixture's cleanup is the slow part.
    for sql in APPEND_ONLY:
        with pytest.raises(DBAPIError, match="append-only"):
            _write(svc.engine, (text(sql), {}))
    assert svc.verify_ledger(Principal.system()).entries_checked == 2


def test_balance_below_floor_is_refused(svc: BankingService, two: tuple[str, str]) -> None:
    a, _ = two
    with pytest.raises(DBAPIError, match=r"(?i)check"):
        _write(
            svc.engine,
            (text("UPDATE banking_accounts SET balance_minor = -1 WHERE id = :a"), {"a": a}),
        )
    with pytest.raises(DBAPIError, match=r"(?i)check"):
        _write(
            svc.engine,
            (text("UPDATE banking_accounts SET held_minor = 10001 WHERE id = :a"), {"a": a}),
        )
    with pytest.raises(DBAPIError, match=r"(?i)check"):
        _write(
            svc.engine,
            (text("UPDATE banking_accounts SET allow_negative = true WHERE id = :a"), {"a": a}),
        )


def test_posting_in_another_currency_than_the_account_is_refused(
    svc: BankingService, two: tuple[str, str]
) -> None:
    a, b = two
    e = new_id()
    with pytest.raises(DBAPIError, match=r"(?i)foreign key"):
        _write(
            svc.engine,
            (POST, {"e": e, "a": a, "c": "USD", "m": -100}),
            (POST, {"e": e, "a": b, "c": "USD", "m": 100}),
            (ENTRY, {"e": e, "k": f"raw-{e}"}),
        )


def test_unsupported_currency_is_refused(svc: BankingService) -> None:
    cid = svc.create_customer(Principal.system(), kind="personal", display_name="x").id
    with pytest.raises(DBAPIError, match=r"(?i)check"):
        _write(
            svc.engine,
            (
                text(
                    "INSERT INTO banking_accounts (id, customer_id, kind, currency, status,"
                    " created_at) VALUES (:i, :c, 'current', 'XXX', 'open', CURRENT_TIMESTAMP)"
                ),
                {"i": new_id(), "c": cid},
            ),
        )
