"""Identity fixtures: all services over a real migrated database (both backends)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from finbridge.core import ManualClock, Settings
from finbridge.identity import IdentityServices, RegistrationRequest

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


PASSWORD = "correct horse battery"


def enrol_customer(ids: IdentityServices, req: RegistrationRequest = ZHANG) -> str:
    """Register a person with a password (one call); returns the customer id."""
    return ids.persons.register(req, password=PASSWORD).customer_id


def totp_code(secret: str, clock: ManualClock, offset_steps: int = 0) -> str:
    import pyotp

    totp = pyotp.TOTP(secret)
    return totp.generate_otp(totp.timecode(clock.now()) + offset_steps)


def enrol_totp(
    ids: IdentityServices, clock: ManualClock, customer_id: str
) -> tuple[str, list[str]]:
    """Set up and confirm TOTP; returns (secret, recovery codes). Advances the clock one step."""
    from datetime import timedelta

    from finbridge.core import Principal

    me = Principal.customer(customer_id)
    setup = ids.totp.begin_setup(me, customer_id)
    codes = ids.totp.confirm_setup(me, customer_id, totp_code(setup.secret, clock))
    clock.advance(timedelta(seconds=30))
    return setup.secret, codes
