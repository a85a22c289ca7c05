"""Passkey ceremonies driven by a software authenticator: registration (none and packed
attestation), login and step-up assertions; replay, wrong origin, wrong RP id, cloned counter."""

from __future__ import annotations

import copy

import pytest

from finbridge.core import Principal
from finbridge.core.errors import AuthenticationFailed
from finbridge.identity.services import IdentityServices

from .conftest import PASSWORD, ZHANG, enrol_customer
from .softauthn import SoftAuthenticator


def _me(ids: IdentityServices) -> Principal:
    enrol_customer(ids)
    tokens = ids.login.start(ZHANG.phone, PASSWORD).tokens
    assert tokens is not None
    return ids.sessions.authenticate(tokens.access_token)


@pytest.mark.parametrize("fmt", ["none", "packed"])
def test_register_then_login_with_passkey(sqlite_ids: IdentityServices, fmt: str) -> None:
    ids = sqlite_ids
    me = _me(ids)
    auth = SoftAuthenticator()
    options = ids.passkeys.registration_options(me)
    assert options["rp"]["id"] == "localhost"
    passkey = ids.passkeys.register(me, auth.create(options, fmt=fmt), label="test key")
    assert passkey.credential_id == auth.create(options)["id"]
    # Login: password, then the passkey.
    step = ids.login.start(ZHANG.phone, PASSWORD)
    assert step.challenge is not None and "passkey" in step.methods
    request = ids.login.passkey_options(step.challenge)
    assertion = auth.get(request)
    tokens = ids.login.complete_passkey(step.challenge, assertion)
    assert ids.sessions.authenticate(tokens.access_token).customer_id == me.customer_id
    assert ids.passkeys.list(me)[0].sign_count == 1
    # Replaying the very same assertion in a new login is refused (challenge spent).
    step2 = ids.login.start(ZHANG.phone, PASSWORD)
    assert step2.challenge is not None
    ids.login.passkey_options(step2.challenge)
    with pytest.raises(AuthenticationFailed, match="not accepted"):
        ids.login.complete_passkey(step2.challenge, assertion)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [({"origin": "https://evil.example"}, "origin"), ({"rp_id": "evil.example"}, "RP ID")],
)
def test_registration_refuses_wrong_origin_and_rp(
    sqlite_ids: IdentityServices, kwargs: dict, reason: str
) -> None:
    me = _me(sqlite_ids)
    options = sqlite_ids.passkeys.registration_options(me)
    with pytest.raises(AuthenticationFailed, match=reason):
        sqlite_ids.passkeys.register(me, SoftAuthenticator().create(options, **kwargs))
    assert sqlite_ids.passkeys.list(me) == []
    audit = [e for e in sqlite_ids.audit.entries() if e.action == "passkey.register"]
    assert audit[0].outcome == "refused"


def test_registration_challenge_is_single_use(sqlite_ids: IdentityServices) -> None:
    me = _me(sqlite_ids)
    options = sqlite_ids.passkeys.registration_options(me)
    auth = SoftAuthenticator()
    credential = auth.create(options)
    sqlite_ids.passkeys.register(me, credential)
    with pytest.raises(AuthenticationFailed, match="challenge"):
        sqlite_ids.passkeys.register(me, copy.deepcopy(credential))


def test_step_up_assertions_wrong_origin_clone_and_replay(sqlite_ids: IdentityServices) -> None:
    ids = sqlite_ids
    me = _me(ids)
    auth = SoftAuthenticator()
    ids.passkeys.register(me, auth.create(ids.passkeys.registration_options(me)))
    assert me.customer_id is not None
    # wrong origin
    opts = ids.passkeys.authentication_options(me.customer_id, "webauthn.step_up")
    with pytest.raises(AuthenticationFailed):
        ids.passkeys.step_up(me, auth.get(opts, origin="https://phish.example"))
    # a good one
    opts = ids.passkeys.authentication_options(me.customer_id, "webauthn.step_up")
    good = auth.get(opts)
    ids.passkeys.step_up(me, good)
    ids.step_up.require_step_up(me, "payee.add")
    # replay of the good assertion
    with pytest.raises(AuthenticationFailed):
        ids.passkeys.step_up(me, good)
    # a cloned authenticator whose counter does not move forward
    opts = ids.passkeys.authentication_options(me.customer_id, "webauthn.step_up")
    with pytest.raises(AuthenticationFailed):
        ids.passkeys.step_up(me, auth.get(opts, count=False))
    failures = [e for e in ids.audit.entries() if e.action == "step_up" and e.outcome == "failure"]
    assert len(failures) == 3


@pytest.mark.parametrize(
    "mangle",
    [
        lambda c: {**c, "response": {**c["response"], "attestationObject": "AAAA"}},
        lambda c: {**c, "response": {**c["response"], "clientDataJSON": "not base64 json"}},
        lambda c: {**c, "response": {}},
        lambda c: {"id": 5},
    ],
    ids=["bad-cbor", "bad-client-data", "no-response", "garbage"],
)
def test_malformed_registrations_are_refusals_not_errors(
    sqlite_ids: IdentityServices, mangle
) -> None:  # type: ignore[no-untyped-def]
    from finbridge.core.errors import ValidationError

    me = _me(sqlite_ids)
    credential = SoftAuthenticator().create(sqlite_ids.passkeys.registration_options(me))
    with pytest.raises((AuthenticationFailed, ValidationError)):
        sqlite_ids.passkeys.register(me, mangle(credential))
    assert sqlite_ids.passkeys.list(me) == []
