"""Customer login: mobile number + password, then a second factor when one is enrolled.

Every attempt, good or bad, is written to the audit log and the lake (``login`` and
``identity.auth`` events). Failures say the same thing whatever went wrong (unknown number or
wrong password) so the answer does not reveal who is a customer.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from finbridge.core.clock import Clock
from finbridge.core.errors import AuthenticationFailed, RateLimited
from finbridge.core.ids import new_id
from finbridge.identity._time import aware
from finbridge.identity.audit import AuditLog
from finbridge.identity.config import IdentityConfig
from finbridge.identity.credentials import PasswordService, TotpService
from finbridge.identity.events import emit_auth
from finbridge.identity.faceauth import FaceService, LivenessChallenge, LivenessFailed
from finbridge.identity.passkeys import PasskeyService
from finbridge.identity.persons import PersonService
from finbridge.identity.sessions import SessionService, TokenPair
from finbridge.identity.tables import FaceTemplateRow, LoginChallengeRow, PasskeyRow
from finbridge.store.engine import unit_of_work

CHALLENGE_PREFIX = "lc_"
SecondFactorCheck = Callable[[Session, str], bool]


@dataclass(frozen=True, slots=True)
class LoginResult:
    """Either tokens (no second factor enrolled) or a challenge for the second step."""

    tokens: TokenPair | None
    challenge: str | None
    methods: tuple[str, ...]


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LoginService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        persons: PersonService,
        passwords: PasswordService,
        totp: TotpService,
        sessions: SessionService,
        audit: AuditLog,
        config: IdentityConfig,
        passkeys: PasskeyService | None = None,
        faces: FaceService | None = None,
    ) -> None:
        self._passkeys = passkeys
        self._faces = faces
        self._engine = engine
        self._clock = clock
        self._persons = persons
        self._passwords = passwords
        self._totp = totp
        self._sessions = sessions
        self._audit = audit
        self._config = config

    def _methods(self, session: Session, customer_id: str) -> tuple[str, ...]:
        methods: list[str] = []
        if self._totp.is_enrolled(session, customer_id):
            methods += ["totp", "recovery_code"]
        has_passkey = session.scalar(
            select(PasskeyRow.credential_id).where(PasskeyRow.customer_id == customer_id).limit(1)
        )
        if has_passkey:
            methods.append("passkey")
        if self._faces is not None and session.get(FaceTemplateRow, customer_id) is not None:
            methods.append("face")  # with liveness, after the password: never alone
        return tuple(methods)

    def _fail(
        self,
        session: Session,
        customer_id: str | None,
        method: str,
        reason: str,
        client: str | None = None,
    ) -> None:
        now = self._clock.now()
        detail = {"method": method, "reason": reason}
        if client:
            detail["ip"] = client[:45]
        self._audit.append(
            session,
            actor=customer_id or "anonymous",
            action="login",
            subject=customer_id,
            outcome="failure",
            detail=detail,
        )
        emit_auth(
            session,
            now,
            action="login",
            outcome="failure",
            customer_id=customer_id,
            method=method,
            reason=reason,
            ip=client,
        )

    def start(
        self, phone: str, password: str, device: str = "", *, client: str | None = None
    ) -> LoginResult:
        """First step. Raises AuthenticationFailed (same message for every cause) or RateLimited.

        ``client`` (the caller's IP, from the interface) throttles failures per (mobile number,
        client): someone guessing from one address is backed off without locking the real
        customer, signing in from elsewhere, out of their account.
        """
        customer_id = self._persons.find_by_phone(phone)
        identifier = self._persons.login_key(phone)
        self._sessions.prepare()
        result: LoginResult | None = None
        locked: RateLimited | None = None
        with unit_of_work(self._engine) as session:
            try:
                ok = self._passwords.check(session, customer_id, password, identifier, client)
            except RateLimited as exc:
                locked, ok = exc, False
            if not ok:
                reason = "locked" if locked else ("unknown" if customer_id is None else "password")
                self._fail(session, customer_id, "password", reason, client)
            else:
                assert customer_id is not None
                methods = self._methods(session, customer_id)
                if methods:
                    token = CHALLENGE_PREFIX + secrets.token_urlsafe(32)
                    now = self._clock.now()
                    session.add(
                        LoginChallengeRow(
                            id=new_id(),
                            token_hash=_digest(token),
                            customer_id=customer_id,
                            device=device[:200],
                            created_at=now,
                            expires_at=now + self._config.login_challenge_ttl,
                            used_at=None,
                            attempts=0,
                        )
                    )
                    self._audit.append(
                        session,
                        actor=customer_id,
                        action="login.password",
                        subject=customer_id,
                        outcome="success",
                        detail={"next": ",".join(methods)},
                    )
                    result = LoginResult(None, token, methods)
                else:
                    tokens = self._sessions.open(session, customer_id, device=device, amr=["pwd"])
                    self._succeed(session, customer_id, "password", tokens.session_id, client)
                    result = LoginResult(tokens, None, ())
        if locked is not None:
            raise locked
        if result is None:
            raise AuthenticationFailed("mobile number or password is wrong", field="password")
        return result

    def _succeed(
        self,
        session: Session,
        customer_id: str,
        method: str,
        session_id: str,
        client: str | None = None,
    ) -> None:
        now = self._clock.now()
        detail = {"method": method, "session_id": session_id}
        if client:
            detail["ip"] = client[:45]
        self._audit.append(
            session,
            actor=customer_id,
            action="login",
            subject=customer_id,
            outcome="success",
            detail=detail,
        )
        emit_auth(
            session,
            now,
            action="login",
            outcome="success",
            customer_id=customer_id,
            method=method,
            session_id=session_id,
            ip=client,
        )

    def complete(self, challenge: str, method: str, code: str) -> TokenPair:
        """Second step with a TOTP code or a recovery code."""
        if method == "totp":
            return self.complete_with(
                challenge, "totp", lambda s, cid: self._totp.verify(s, cid, code)
            )
        if method == "recovery_code":
            return self.complete_with(
                challenge,
                "recovery_code",
                lambda s, cid: self._totp.use_recovery_code(s, cid, code),
            )
        raise AuthenticationFailed("unsupported second factor", field="method")

    def passkey_options(self, challenge: str) -> dict[str, Any]:
        """WebAuthn request options for the customer behind a pending login."""
        if self._passkeys is None:
            raise AuthenticationFailed("passkeys are not enabled", field="method")
        return self._passkeys.authentication_options(self.challenge_customer(challenge))

    def complete_passkey(self, challenge: str, credential: dict[str, Any]) -> TokenPair:
        passkeys = self._passkeys
        if passkeys is None:
            raise AuthenticationFailed("passkeys are not enabled", field="method")
        return self.complete_with(
            challenge, "passkey", lambda s, cid: passkeys.verify_assertion(s, cid, credential)
        )

    def face_challenge(self, challenge: str) -> LivenessChallenge:
        """The head turns to make for the pending login (its customer must have a face)."""
        if self._faces is None:
            raise AuthenticationFailed("face sign-in is not enabled", field="method")
        return self._faces.challenge_for(self.challenge_customer(challenge))

    def complete_face(self, challenge: str, liveness_id: str, frames: list[bytes]) -> TokenPair:
        """The second step with face + liveness: frames of the enrolled customer making the
        drawn head turns. A failure counts as a wrong second factor and raises
        :class:`LivenessFailed` saying why (another face, no liveness, a replay)."""
        faces = self._faces
        if faces is None:
            raise AuthenticationFailed("face sign-in is not enabled", field="method")
        customer_id = self.challenge_customer(challenge)
        # Checked before the login's transaction: dlib takes a while and records its own rows.
        failed: LivenessFailed | None = None
        try:
            faces.verify_liveness_for(customer_id, liveness_id, frames)
        except LivenessFailed as exc:
            failed = exc
        try:
            return self.complete_with(
                challenge, "face", lambda _s, cid: failed is None and cid == customer_id
            )
        except AuthenticationFailed:
            if failed is not None:
                raise failed from None
            raise

    def challenge_customer(self, challenge: str) -> str:
        """Which customer a pending login belongs to (for the passkey options)."""
        with unit_of_work(self._engine, write=False) as session:
            row = self._pending(session, challenge)
            return row.customer_id

    def _pending(self, session: Session, challenge: str) -> LoginChallengeRow:
        refused = AuthenticationFailed(
            "login step expired or unknown; start again", field="challenge"
        )
        if not isinstance(challenge, str) or not challenge.startswith(CHALLENGE_PREFIX):
            raise refused
        row = session.scalar(
            select(LoginChallengeRow).where(LoginChallengeRow.token_hash == _digest(challenge))
        )
        if row is None or row.used_at is not None or aware(row.expires_at) <= self._clock.now():
            raise refused
        if row.attempts >= self._config.second_factor_max_attempts:
            raise refused
        return row

    def complete_with(self, challenge: str, method: str, check: SecondFactorCheck) -> TokenPair:
        amr = {"totp": "otp", "recovery_code": "otp", "passkey": "hwk", "face": "face"}[method]
        tokens: TokenPair | None = None
        failure: Exception | None = None
        self._sessions.prepare()
        with unit_of_work(self._engine) as session:
            try:
                row = self._pending(session, challenge)
            except AuthenticationFailed as exc:
                self._fail(session, None, method, "challenge")
                failure = exc
            else:
                try:
                    ok = check(session, row.customer_id)
                except (AuthenticationFailed, RateLimited) as exc:
                    ok, failure = False, exc
                if ok:
                    row.used_at = self._clock.now()
                    tokens = self._sessions.open(
                        session,
                        row.customer_id,
                        device=row.device,
                        amr=["pwd", amr],
                        step_up_method=method,
                    )
                    self._succeed(session, row.customer_id, method, tokens.session_id)
                else:
                    row.attempts += 1
                    self._fail(session, row.customer_id, method, "wrong or reused code")
        if tokens is None:
            if isinstance(failure, RateLimited):
                raise failure
            raise AuthenticationFailed("second factor was not accepted", field="code")
        return tokens
