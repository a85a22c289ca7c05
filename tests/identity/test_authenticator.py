"""One authenticator for every interface: API keys, customer access tokens, console sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, select

from finbridge.core import ManualClock, Role
from finbridge.core.errors import AuthenticationFailed
from finbridge.core.principal import PrincipalKind
from finbridge.identity import (
    CONSOLE_ABSOLUTE_TIMEOUT,
    CONSOLE_IDLE_TIMEOUT,
    ClientInfo,
    IdentityServices,
)
from finbridge.lake.tables import OutboxRow
from finbridge.store import unit_of_work

from .conftest import PASSWORD, ZHANG, enrol_customer


def test_each_kind_of_credential(sqlite_ids: IdentityServices) -> None:
    ids = sqlite_ids
    key = ids.api_keys.issue("ops", [Role.ADMIN]).plaintext
    assert ids.authenticator.cached(key) is None  # not verified yet: nothing in memory
    operator = ids.authenticate(key)
    assert operator.kind is PrincipalKind.OPERATOR
    assert ids.authenticator.cached(key) == operator  # now answered without the database

    enrol_customer(ids)
    tokens = ids.login.start(ZHANG.phone, PASSWORD).tokens
    assert tokens is not None
    customer = ids.authenticate(tokens.access_token)
    assert customer.kind is PrincipalKind.CUSTOMER and customer.session_id == tokens.session_id
    assert ids.authenticator.cached(tokens.access_token) is None  # tokens always check the session

    for bad in ("fbk_000000000000_nope", "fbs_unknown", "a.b.c", "anything else"):
        with pytest.raises(AuthenticationFailed):
            ids.authenticate(bad)


def test_operator_console_sign_in_records_login_events(
    sqlite_ids: IdentityServices, sqlite_engine: Engine
) -> None:
    ids = sqlite_ids
    key = ids.api_keys.issue("ops", [Role.ADMIN])
    client = ClientInfo(ip="203.0.113.7", user_agent="test-agent")
    with pytest.raises(AuthenticationFailed):
        ids.authenticator.sign_in_operator(key.plaintext + "x", client)
    signed_in = ids.authenticator.sign_in_operator(f"  {key.plaintext} ", client)
    assert signed_in.token.startswith("fbs_") and key.plaintext not in signed_in.token
    assert ids.authenticate(signed_in.token) == signed_in.principal
    with unit_of_work(sqlite_engine, write=False) as s:
        rows = s.scalars(select(OutboxRow).where(OutboxRow.event_type == "login")).all()
    assert [(r.payload["success"], r.subject_id) for r in rows] == [
        (False, None),
        (True, key.key.id),
    ]
    assert rows[0].payload["ip"] == "203.0.113.7"
    # Revoking the key ends the console session at its next use.
    ids.api_keys.revoke(key.key.id)
    with pytest.raises(AuthenticationFailed):
        ids.authenticate(signed_in.token)
    assert len(ids.console_sessions) == 0


def test_customer_console_session_follows_the_identity_session(
    sqlite_ids: IdentityServices,
) -> None:
    ids = sqlite_ids
    enrol_customer(ids)
    tokens = ids.login.start(ZHANG.phone, PASSWORD).tokens
    assert tokens is not None
    signed_in = ids.authenticator.sign_in_customer(tokens.session_id)
    assert ids.authenticate(signed_in.token).customer_id == signed_in.principal.customer_id
    ids.sessions.logout(ids.authenticate(tokens.access_token))
    with pytest.raises(AuthenticationFailed):
        ids.authenticate(signed_in.token)


def test_console_sessions_expire(sqlite_ids: IdentityServices, clock: ManualClock) -> None:
    ids = sqlite_ids
    key = ids.api_keys.issue("ops", [Role.ADMIN]).plaintext
    idle = ids.authenticator.sign_in_operator(key).token
    clock.advance(CONSOLE_IDLE_TIMEOUT + timedelta(seconds=1))
    with pytest.raises(AuthenticationFailed):
        ids.authenticate(idle)
    busy = ids.authenticator.sign_in_operator(key).token
    for _ in range(int(CONSOLE_ABSOLUTE_TIMEOUT / CONSOLE_IDLE_TIMEOUT) + 1):
        clock.advance(CONSOLE_IDLE_TIMEOUT - timedelta(minutes=1))  # active, never idle
        try:
            ids.authenticate(busy)
        except AuthenticationFailed:
            break
    else:
        raise AssertionError("the absolute timeout did not end the session")
    ids.authenticator.sign_out(busy)
    ids.close()
    assert len(ids.console_sessions) == 0
