"""Identity fixtures: all services over a real migrated database (both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from finbridge.core import ManualClock, Settings
from finbridge.identity.persons import RegistrationRequest
from finbridge.identity.services import IdentityServices

ZHANG = RegistrationRequest(
    name="张三丰",
    id_type="prc_resident_id",
    id_number="110101199003074477",
    phone="13812345678",
    card_number="6222021234567890128",
)
LI = RegistrationRequest(
    name="李小龙", id_type="prc_resident_id", id_number="310115198702141238", phone="13912345678"
)


@pytest.fixture
def ids(engine: Engine, clock: ManualClock, settings: Settings) -> IdentityServices:
    return IdentityServices.build(engine, clock, settings)


@pytest.fixture
def sqlite_ids(sqlite_engine: Engine, clock: ManualClock, settings: Settings) -> IdentityServices:
    return IdentityServices.build(sqlite_engine, clock, settings)
