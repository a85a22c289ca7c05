"""Access tokens (Ed25519 JWS, rotation, tampering), refresh rotation with reuse detection,
logout / revoke-all, and the step-up policy."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update

from finbridge.core import ManualClock, Principal, Role
from finbridge.core.errors import AuthenticationFailed, NotFound, StepUpRequired
from finbridge.identity.services import IdentityServices
from finbridge.identity.tables import SessionRow
from finbridge.store import unit_of_work

from .conftest import LI, PASSWORD, ZHANG, enrol_customer, enrol_totp, totp_code


def _login(ids: IdentityServices, phone: str = ZHANG.phone, device: str = "phone"):  # type: ignore[no-untyped-def]
    tokens = ids.login.start(phone, PASSWORD, device=device).tokens
    assert tokens is not None
    return tokens


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_access_token_shape_and_expiry(sqlite_ids: IdentityServices, clock: ManualClock) -> None:
    ids = sqlite_ids
    enrol_customer(ids)
    tokens = _login(ids)
    header = json.loads(base64.urlsafe_b64decode(tokens.access_token.split(".")[0] + "=="))
    assert header["alg"] == "EdDSA" and header["typ"] == "at+jwt" and header["kid"]
    assert tokens.expires_in == 300
    clock.advance(timedelta(minutes=5, seconds=31))
    with pytest.raises(AuthenticationFailed, match="expired"):
        ids.sessions.authenticate(tokens.access_token)
    assert ids.audit.entries()[0].action == "token.verify"


def test_tampered_tokens_refused(sqlite_ids: IdentityServices) -> None:
    ids = sqlite_ids
    enrol_customer(ids)
    other = enrol_customer(ids, LI)
    token = _login(ids).access_token
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    forged_body = _b64({**claims, "sub": other})
    none_header = _b64(
        {
            "alg": "none",
            "typ": "at+jwt",
            "kid": json.loads(base64.urlsafe_b64decode(head + "=="))["kid"],
        }
    )
    bad = [
        f"{head}.{forged_body}.{sig}",  # changed subject (BOLA by token)
        f"{none_header}.{body}.",  # alg none
        f"{none_header}.{body}.{sig}",
        f"{_b64({'alg': 'HS256', 'typ': 'at+jwt', 'kid': 'x'})}.{body}.{sig}",
        token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB"),
        "not.a.token",
        "x" * 5000,
        "",
    ]
    for candidate in bad:
        with pytest.raises(AuthenticationFailed):
            ids.sessions.authenticate(candidate)


def test_key_rotation_keeps_old_tokens_valid_for_grace(
    sqlite_ids: IdentityServices, clock: ManualClock
) -> None:
    ids = sqlite_ids
    enrol_customer(ids)
    old = _login(ids).access_token
    old_kid = ids.signer.ensure_key()
    new_kid = ids.signer.rotate()
    assert new_kid != old_kid
    new = _login(ids).access_token
    assert ids.sessions.authenticate(old).customer_id == ids.sessions.authenticate(new).customer_id
    kids = {k["kid"] for k in ids.signer.public_jwks()["keys"]}
    assert kids == {old_kid, new_kid}
    clock.advance(ids.signer.grace + timedelta(seconds=1))
    assert {k["kid"] for k in ids.signer.public_jwks()["keys"]} == {new_kid}


def test_refresh_rotates_and_reuse_revokes_family(ids: IdentityServices) -> None:
    enrol_customer(ids)
    first = _login(ids)
    second = ids.sessions.refresh(first.refresh_token)
    assert second.refresh_token != first.refresh_token
    assert second.session_id == first.session_id
    third = ids.sessions.refresh(second.refresh_token)
    # An attacker replays the stolen, already-used refresh token:
    with pytest.raises(AuthenticationFailed, match="refresh token"):
        ids.sessions.refresh(first.refresh_token)
    # ... and the whole family is dead, including the legitimate newest tokens.
    with pytest.raises(AuthenticationFailed):
        ids.sessions.refresh(third.refresh_token)
    with pytest.raises(AuthenticationFailed, match="session has ended"):
        ids.sessions.authenticate(third.access_token)
    reasons = [e.detail.get("reason") for e in ids.audit.entries() if e.action == "session.revoke"]
    assert reasons == ["refresh_token_reuse"]
    with pytest.raises(AuthenticationFailed):
        ids.sessions.refresh("rt_made-up")


def test_logout_sessions_list_and_revoke_all(sqlite_ids: IdentityServices) -> None:
    ids = sqlite_ids
    cid = enrol_customer(ids)
    li = enrol_customer(ids, LI)
    a = _login(ids, device="phone")
    b = _login(ids, device="laptop")
    me = ids.sessions.authenticate(a.access_token)
    listed = ids.sessions.list(me, cid)
    assert sorted(s.device for s in listed) == ["laptop", "phone"]
    assert [s.current for s in listed if s.device == "phone"] == [True]
    with pytest.raises(NotFound):  # someone else's sessions: not even their existence
        ids.sessions.list(me, li)
    with pytest.raises(NotFound):
        ids.sessions.revoke(
            ids.sessions.authenticate(_login(ids, LI.phone).access_token), cid, b.session_id
        )
    ids.sessions.logout(me)
    with pytest.raises(AuthenticationFailed):
        ids.sessions.authenticate(a.access_token)
    me_b = ids.sessions.authenticate(b.access_token)
    _login(ids, device="tablet")
    assert ids.sessions.revoke_all(me_b, cid) == 2
    with pytest.raises(AuthenticationFailed):
        ids.sessions.authenticate(b.access_token)
    teller = Principal.operator("op", [Role.TELLER])
    assert ids.sessions.list(teller, cid) == []


def test_step_up_policy(
    sqlite_ids: IdentityServices, sqlite_engine: Engine, clock: ManualClock
) -> None:
    ids = sqlite_ids
    cid = enrol_customer(ids)
    secret, _ = enrol_totp(ids, clock, cid)
    step = ids.login.start(ZHANG.phone, PASSWORD)
    assert step.challenge is not None
    tokens = ids.login.complete(step.challenge, "totp", totp_code(secret, clock))
    me = ids.sessions.authenticate(tokens.access_token)
    ids.step_up.require_step_up(me, "payee.add")  # the login's TOTP is fresh
    ids.step_up.require_step_up(me, "accounts.read")  # not high risk
    clock.advance(timedelta(minutes=6))
    with pytest.raises(StepUpRequired, match=r"payee\.add") as info:
        ids.step_up.require_step_up(me, "payee.add")
    assert info.value.extra["methods"] == ["totp", "passkey", "face"]
    ids.step_up.require_step_up(me, "accounts.read")
    with pytest.raises(StepUpRequired):  # the risk engine demands step-up for this one
        ids.step_up.require_step_up(me, "accounts.read", demanded=True)
    with pytest.raises(AuthenticationFailed):
        ids.step_up.with_totp(me, "000000")
    ids.step_up.with_totp(me, totp_code(secret, clock))
    ids.step_up.require_step_up(me, "transfer.large")
    ids.step_up.forget(cid)
    with pytest.raises(StepUpRequired):
        ids.step_up.require_step_up(me, "transfer.large")
    # Operators are governed by roles, not step-up.
    ids.step_up.require_step_up(Principal.operator("op", [Role.TELLER]), "transfer.large")


def test_face_alone_never_moves_money(
    sqlite_ids: IdentityServices, sqlite_engine: Engine, clock: ManualClock
) -> None:
    ids = sqlite_ids
    enrol_customer(ids)
    me = ids.sessions.authenticate(_login(ids).access_token)
    with unit_of_work(sqlite_engine) as s:  # a (future) face-only session, stepped up by face
        s.execute(
            update(SessionRow).values(
                amr=["face"], stepped_up_at=clock.now(), step_up_method="face"
            )
        )
    ids.step_up.require_step_up(me, "profile.change_phone")
    with pytest.raises(StepUpRequired, match="face alone"):
        ids.step_up.require_step_up(me, "transfer.large")
