"""A customer opened by a registration that then failed is closed again, never deleted."""

from __future__ import annotations

import pytest
from sqlalchemy import Select, select

from finbridge.banking import BankingService
from finbridge.core import Principal
from finbridge.core.errors import Conflict, NotFound
from finbridge.store import unit_of_work


def test_discard_closes_an_unused_customer_and_says_why(
    lite: BankingService, system: Principal
) -> None:
    customer = lite.create_customer(system, kind="personal", display_name="A*** W***")
    lite.discard_customer(system, customer.id)
    assert lite.get_customer(system, customer.id).status == "closed"
    lite.discard_customer(system, customer.id)  # idempotent: a retried compensation is harmless
    with unit_of_work(lite.engine, write=False) as session:
        rows = session.execute(_outbox("customer.closed", customer.id)).all()
    assert len(rows) == 1


def test_discard_refuses_a_customer_with_accounts(lite: BankingService, system: Principal) -> None:
    customer = lite.create_customer(system, kind="personal", display_name="B*** C***")
    lite.open_account(system, customer.id, kind="current", currency_code="CNY")
    with pytest.raises(Conflict, match="accounts"):
        lite.discard_customer(system, customer.id)
    assert lite.get_customer(system, customer.id).status == "active"


def test_discard_of_an_unknown_customer_names_it(lite: BankingService, system: Principal) -> None:
    with pytest.raises(NotFound, match="nope"):
        lite.discard_customer(system, "nope")


def _outbox(event_type: str, subject: str) -> Select[tuple[int]]:
    from finbridge.lake.tables import OutboxRow

    return select(OutboxRow.seq).where(
        OutboxRow.event_type == event_type, OutboxRow.subject_id == subject
    )
