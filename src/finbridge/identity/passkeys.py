"""Passkeys (WebAuthn) with the `webauthn` package: registration and assertion ceremonies.

The server issues a random challenge per ceremony, stored single-use with an expiry; the
response is verified by `webauthn` against that challenge, the relying-party id and the allowed
origins, and assertions against the stored public key and sign count (a counter that does not
move forward marks a cloned authenticator). A challenge is burnt before verification, so a
replayed assertion fails even if everything else in it is genuine.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from finbridge.core.clock import Clock
from finbridge.core.errors import AuthenticationFailed, Conflict, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity._time import aware
from finbridge.identity.audit import AuditLog
from finbridge.identity.config import IdentityConfig
from finbridge.identity.events import emit_auth
from finbridge.identity.stepup import StepUpService
from finbridge.identity.tables import ChallengeRow, PasskeyRow, PersonRow
from finbridge.store.engine import unit_of_work

REGISTER = "webauthn.register"
LOGIN = "webauthn.login"
STEP_UP = "webauthn.step_up"
# Anything malformed or failing verification ends up as a refusal, never a server error.
_MALFORMED = (KeyError, TypeError, ValueError)

# py_webauthn (and its CBOR/COSE stack) loads on the first passkey operation, not when identity
# is imported.


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _challenge_of(credential: dict[str, Any]) -> bytes:
    """The challenge the client signed, read from clientDataJSON (verified later by webauthn)."""
    try:
        client_data = json.loads(_b64d(credential["response"]["clientDataJSON"]))
        return _b64d(str(client_data["challenge"]))
    except (KeyError, TypeError, ValueError):
        raise ValidationError("malformed WebAuthn credential", field="credential") from None


@dataclass(frozen=True, slots=True)
class Passkey:
    credential_id: str
    label: str
    sign_count: int


class PasskeyService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        audit: AuditLog,
        config: IdentityConfig,
        step_up: StepUpService,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._audit = audit
        self._config = config
        self._step_up = step_up

    def _new_challenge(self, session: Session, kind: str, customer_id: str) -> bytes:
        challenge = secrets.token_bytes(32)
        session.add(
            ChallengeRow(
                id=new_id(),
                kind=kind,
                customer_id=customer_id,
                challenge=challenge,
                data={},
                expires_at=self._clock.now() + self._config.liveness_ttl,
                used_at=None,
            )
        )
        return challenge

    def _consume(self, session: Session, kind: str, customer_id: str, challenge: bytes) -> None:
        row = session.scalar(
            select(ChallengeRow).where(
                ChallengeRow.kind == kind,
                ChallengeRow.customer_id == customer_id,
                ChallengeRow.challenge == challenge,
            )
        )
        if row is None or row.used_at is not None or aware(row.expires_at) <= self._clock.now():
            raise AuthenticationFailed("unknown, used or expired challenge", field="credential")
        row.used_at = self._clock.now()

    # -- registration ---------------------------------------------------------------------------

    def registration_options(self, actor: Principal) -> dict[str, Any]:
        from webauthn import generate_registration_options, options_to_json
        from webauthn.helpers.structs import (
            AuthenticatorSelectionCriteria,
            PublicKeyCredentialDescriptor,
            ResidentKeyRequirement,
            UserVerificationRequirement,
        )

        customer_id = _customer(actor)
        with unit_of_work(self._engine) as session:
            person = session.get(PersonRow, customer_id)
            if person is None:
                raise NotFound(f"no customer {customer_id}", field="customer_id")
            existing = session.scalars(
                select(PasskeyRow.credential_id).where(PasskeyRow.customer_id == customer_id)
            ).all()
            challenge = self._new_challenge(session, REGISTER, customer_id)
            options = generate_registration_options(
                rp_id=self._config.rp_id,
                rp_name=self._config.rp_name,
                user_id=customer_id.encode(),
                user_name=person.phone_masked,
                user_display_name=person.name_masked,
                challenge=challenge,
                authenticator_selection=AuthenticatorSelectionCriteria(
                    resident_key=ResidentKeyRequirement.PREFERRED,
                    user_verification=UserVerificationRequirement.REQUIRED,
                ),
                exclude_credentials=[PublicKeyCredentialDescriptor(id=_b64d(c)) for c in existing],
            )
        return json.loads(options_to_json(options))  # type: ignore[no-any-return]

    def register(self, actor: Principal, credential: dict[str, Any], label: str = "") -> Passkey:
        from webauthn import verify_registration_response
        from webauthn.helpers.exceptions import WebAuthnException

        customer_id = _customer(actor)
        challenge = _challenge_of(credential)
        with unit_of_work(self._engine) as session:
            self._consume(session, REGISTER, customer_id, challenge)
        # The challenge is burnt in its own transaction: a failed attempt cannot be retried.
        try:
            verified = verify_registration_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self._config.rp_id,
                expected_origin=list(self._config.origins),
                require_user_verification=True,
            )
        except (WebAuthnException, *_MALFORMED) as exc:
            self._audit.record(
                actor=customer_id,
                action="passkey.register",
                subject=customer_id,
                outcome="refused",
                detail={"reason": str(exc)[:200]},
            )
            raise AuthenticationFailed(f"passkey not accepted: {exc}", field="credential") from None
        cred_id = _b64e(verified.credential_id)
        row = PasskeyRow(
            credential_id=cred_id,
            customer_id=customer_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            label=(label or "passkey")[:120],
            created_at=self._clock.now(),
            last_used_at=None,
        )
        with unit_of_work(self._engine) as session:
            if session.get(PasskeyRow, cred_id) is not None:
                raise Conflict("this passkey is already registered", field="credential")
            session.add(row)
            self._audit.append(
                session,
                actor=customer_id,
                action="passkey.register",
                subject=customer_id,
                outcome="success",
                detail={"credential": cred_id[:16]},
            )
            emit_auth(
                session,
                self._clock.now(),
                action="passkey.register",
                outcome="success",
                customer_id=customer_id,
                method="passkey",
            )
        return Passkey(cred_id, row.label, row.sign_count)

    # -- authentication -------------------------------------------------------------------------

    def authentication_options(self, customer_id: str, kind: str = LOGIN) -> dict[str, Any]:
        from webauthn import generate_authentication_options, options_to_json
        from webauthn.helpers.structs import (
            PublicKeyCredentialDescriptor,
            UserVerificationRequirement,
        )

        with unit_of_work(self._engine) as session:
            creds = session.scalars(
                select(PasskeyRow.credential_id).where(PasskeyRow.customer_id == customer_id)
            ).all()
            if not creds:
                raise NotFound("no passkey registered", field="passkey")
            challenge = self._new_challenge(session, kind, customer_id)
        options = generate_authentication_options(
            rp_id=self._config.rp_id,
            challenge=challenge,
            allow_credentials=[PublicKeyCredentialDescriptor(id=_b64d(c)) for c in creds],
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return json.loads(options_to_json(options))  # type: ignore[no-any-return]

    def verify_assertion(
        self, session: Session, customer_id: str, credential: dict[str, Any], kind: str = LOGIN
    ) -> bool:
        """Check an assertion inside the caller's transaction; False on any doubt."""
        from webauthn import verify_authentication_response
        from webauthn.helpers.exceptions import WebAuthnException

        try:
            challenge = _challenge_of(credential)
            self._consume(session, kind, customer_id, challenge)
            row = session.get(PasskeyRow, str(credential.get("rawId") or credential.get("id")))
            if row is None or row.customer_id != customer_id:
                return False
            verified = verify_authentication_response(
                credential=credential,
                expected_challenge=challenge,
                expected_rp_id=self._config.rp_id,
                expected_origin=list(self._config.origins),
                credential_public_key=row.public_key,
                credential_current_sign_count=row.sign_count,
                require_user_verification=True,
            )
        except (AuthenticationFailed, ValidationError, WebAuthnException, *_MALFORMED):
            return False
        row.sign_count = verified.new_sign_count
        row.last_used_at = self._clock.now()
        return True

    def step_up(self, actor: Principal, credential: dict[str, Any]) -> None:
        customer_id = _customer(actor)
        with unit_of_work(self._engine) as session:
            ok = self.verify_assertion(session, customer_id, credential, STEP_UP)
            if ok:
                self._step_up.record(session, actor, "passkey")
        if not ok:
            self._step_up.refuse(actor, "passkey", "assertion not accepted")
            raise AuthenticationFailed("passkey assertion not accepted", field="credential")

    def list(self, actor: Principal) -> list[Passkey]:
        customer_id = _customer(actor)
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(
                select(PasskeyRow).where(PasskeyRow.customer_id == customer_id)
            ).all()
        return [Passkey(r.credential_id, r.label, r.sign_count) for r in rows]


def _customer(actor: Principal) -> str:
    if actor.kind is not PrincipalKind.CUSTOMER or actor.customer_id is None:
        raise AuthenticationFailed("passkeys belong to a logged-in customer", field="session_id")
    return actor.customer_id
