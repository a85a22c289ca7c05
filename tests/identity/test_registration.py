"""Registration is one atomic call: person, card, password, audit and event together, and the
customer opened through the port is discarded again if identity's part fails."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select

from finbridge.core import ManualClock, Principal, Settings
from finbridge.core.errors import Conflict, ValidationError
from finbridge.core.ids import new_id
from finbridge.identity import IdentityServices
from finbridge.identity.tables import BankCardRow, PasswordRow, PersonRow
from finbridge.lake.tables import OutboxRow
from finbridge.store import unit_of_work

from .conftest import LI, PASSWORD, ZHANG
from .test_concurrency import _race


class RecordingCustomers:
    """A customer-factory port that remembers what it opened and what it was asked to discard."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self.discarded: list[str] = []
        self._lock = threading.Lock()

    def create(self, display_name: str) -> str:
        assert "张三丰" not in display_name  # only the masked name leaves identity
        customer_id = new_id()
        with self._lock:
            self.created.append(customer_id)
        return customer_id

    def discard(self, customer_id: str) -> None:
        with self._lock:
            self.discarded.append(customer_id)


@pytest.fixture
def customers() -> RecordingCustomers:
    return RecordingCustomers()


@pytest.fixture
def reg_ids(
    engine: Engine, clock: ManualClock, settings: Settings, customers: RecordingCustomers
) -> IdentityServices:
    return IdentityServices.build(engine, clock, settings, customers=customers)


def _counts(engine: Engine) -> dict[str, int]:
    with unit_of_work(engine, write=False) as s:
        return {
            "persons": s.scalar(select(func.count()).select_from(PersonRow)) or 0,
            "passwords": s.scalar(select(func.count()).select_from(PasswordRow)) or 0,
            "cards": s.scalar(select(func.count()).select_from(BankCardRow)) or 0,
            "events": s.scalar(select(func.count()).select_from(OutboxRow)) or 0,
        }


def test_register_with_password_is_one_call(
    reg_ids: IdentityServices, engine: Engine, customers: RecordingCustomers
) -> None:
    view = reg_ids.persons.register(ZHANG, password=PASSWORD)
    assert customers.created == [view.customer_id] and customers.discarded == []
    assert view.factors == ("password",)
    assert reg_ids.login.start(ZHANG.phone, PASSWORD).tokens is not None
    actions = [e.action for e in reg_ids.audit.entries() if e.subject == view.customer_id]
    assert {"person.register", "password.set"} <= set(actions)


def test_failure_of_the_last_step_leaves_nothing(
    reg_ids: IdentityServices,
    engine: Engine,
    customers: RecordingCustomers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The password is the last write (the old route's third step): if it fails, no person,
    card, password or event remains, the banking customer is discarded, and a retry works."""

    def broken_store(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(reg_ids.passwords, "store", broken_store)
    with pytest.raises(RuntimeError, match="went away"):
        reg_ids.persons.register(ZHANG, password=PASSWORD)
    assert _counts(engine) == {"persons": 0, "passwords": 0, "cards": 0, "events": 0}
    assert customers.discarded == customers.created and len(customers.created) == 1
    monkeypatch.undo()
    view = reg_ids.persons.register(ZHANG, password=PASSWORD)
    assert view.factors == ("password",)
    assert customers.created[-1] == view.customer_id and len(customers.discarded) == 1


def test_refused_password_opens_no_customer(
    reg_ids: IdentityServices, engine: Engine, customers: RecordingCustomers
) -> None:
    with pytest.raises(ValidationError) as info:
        reg_ids.persons.register(LI, password="short")
    assert info.value.field == "password"
    assert customers.created == [] and _counts(engine)["persons"] == 0
    assert [(e.action, e.outcome) for e in reg_ids.audit.entries()] == [
        ("person.register", "refused")
    ]


def test_duplicate_opens_no_customer(
    reg_ids: IdentityServices, customers: RecordingCustomers
) -> None:
    reg_ids.persons.register(ZHANG, password=PASSWORD)
    with pytest.raises(Conflict):
        reg_ids.persons.register(ZHANG, password=PASSWORD)
    assert len(customers.created) == 1 and customers.discarded == []


def test_concurrent_losers_discard_their_customer(
    reg_ids: IdentityServices, engine: Engine, customers: RecordingCustomers
) -> None:
    results = _race(4, lambda _: reg_ids.persons.register(ZHANG, password=PASSWORD))
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))
    # Every customer opened by a loser that got past the first duplicate check is taken back.
    kept = set(customers.created) - set(customers.discarded)
    assert kept == {winners[0].customer_id}
    assert _counts(engine)["passwords"] == 1


def test_operator_onboarding_needs_customers_write(reg_ids: IdentityServices) -> None:
    from finbridge.core import Role
    from finbridge.core.errors import PermissionDenied

    analyst = Principal.operator("op-quant", [Role.QUANT_RESEARCHER])
    with pytest.raises(PermissionDenied):
        reg_ids.persons.register(ZHANG, analyst, password=PASSWORD)
