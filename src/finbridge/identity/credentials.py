"""Knowledge and possession factors: argon2id passwords, TOTP (replay-safe), recovery codes.

Passwords: argon2id (argon2-cffi). Unknown users are checked against a dummy hash made with the
same parameters, so a login for a phone number nobody registered costs the same time as a wrong
password. After ``lockout_after`` consecutive failures every further failure locks the account
for ``lockout_base * 2^(n - lockout_after)`` (capped), and attempts during a lock are refused
without checking the password. Hashes made with older parameters are upgraded at the next login.

TOTP (RFC 6238 via pyotp): codes are accepted for the current 30-second step and one step either
side; the last accepted step is stored, so a code (or any older code) cannot be used twice.
Recovery codes are random, shown once, stored as SHA-256 hashes and burnt on use.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from finbridge.core.clock import Clock
from finbridge.core.errors import (
    AuthenticationFailed,
    Conflict,
    NotFound,
    RateLimited,
    ValidationError,
)
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, PrincipalKind
from finbridge.identity._time import aware_or_none
from finbridge.identity.audit import AuditLog
from finbridge.identity.config import IdentityConfig
from finbridge.identity.events import emit_auth
from finbridge.identity.tables import (
    PasswordRow,
    PersonRow,
    RecoveryCodeRow,
    ThrottleRow,
    TotpRow,
)
from finbridge.identity.vault import PiiVault
from finbridge.store.engine import unit_of_work

MIN_PASSWORD = 10
MAX_PASSWORD = 128  # argon2 takes any length; the cap stops multi-megabyte "passwords"
RECOVERY_CODES = 10


def check_password_policy(password: str, *, field: str = "password") -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError(f"password needs at least {MIN_PASSWORD} characters", field=field)
    if len(password) > MAX_PASSWORD:
        raise ValidationError(f"password is longer than {MAX_PASSWORD} characters", field=field)
    if len(set(password)) < 5:
        raise ValidationError("password is too repetitive", field=field)


def _own(actor: Principal, customer_id: str) -> None:
    if actor.kind is PrincipalKind.CUSTOMER and not actor.can_act_for(customer_id):
        raise NotFound(f"no customer {customer_id}", field="customer_id")
    if actor.kind is PrincipalKind.OPERATOR:
        actor.require_scope("customers:write")


@dataclass(frozen=True, slots=True)
class TotpSetup:
    secret: str  # base32, shown once for manual entry
    uri: str  # otpauth:// for the QR code


class PasswordService:
    def __init__(self, engine: Engine, clock: Clock, audit: AuditLog, config: IdentityConfig):
        self._engine = engine
        self._clock = clock
        self._audit = audit
        self._config = config
        self._hasher = PasswordHasher(
            time_cost=config.argon2_time_cost,
            memory_cost=config.argon2_memory_kib,
            parallelism=config.argon2_parallelism,
            type=Type.ID,
        )
        # Same parameters as real hashes, so verifying against it takes the same time.
        self._dummy = self._hasher.hash(secrets.token_urlsafe(16))

    def hash_new(self, password: str) -> str:
        """Policy-check and hash a new password (slow on purpose: before any transaction)."""
        check_password_policy(password)
        return self._hasher.hash(password)

    def set_password(self, actor: Principal, customer_id: str, password: str) -> None:
        _own(actor, customer_id)
        digest = self.hash_new(password)
        with unit_of_work(self._engine) as session:
            if session.get(PersonRow, customer_id) is None:
                raise NotFound(f"no customer {customer_id}", field="customer_id")
            self.store(session, actor.id, customer_id, digest)

    def store(self, session: Session, actor_id: str, customer_id: str, digest: str) -> None:
        """Write a hash from :meth:`hash_new` inside the caller's transaction (registration)."""
        now = self._clock.now()
        row = session.get(PasswordRow, customer_id)
        if row is None:
            session.add(
                PasswordRow(
                    customer_id=customer_id,
                    hash=digest,
                    failed_count=0,
                    locked_until=None,
                    changed_at=now,
                )
            )
        else:
            row.hash, row.failed_count, row.locked_until, row.changed_at = digest, 0, None, now
        self._audit.append(
            session, actor=actor_id, action="password.set", subject=customer_id, outcome="success"
        )
        emit_auth(
            session, now, action="password.set", outcome="success", customer_id=customer_id,
            method="password",
        )  # fmt: skip

    def check(
        self,
        session: Session,
        customer_id: str | None,
        password: str,
        identifier_key: str = "",
        client: str | None = None,
    ) -> bool:
        """Verify inside the caller's transaction; updates failure counters and lockout.

        Raises :class:`RateLimited` while locked. Unknown customers cost the same time (dummy
        hash) and are throttled the same way, by ``identifier_key`` (the blind index of what was
        typed), so a lockout does not reveal whether a mobile number is registered.

        With ``client`` (the caller's address) the back-off is kept per (identifier, client),
        so failures from one address never lock the customer out from another (the lockout
        denial of service); the account's own counter still counts them, without locking.
        """
        if not isinstance(password, str) or len(password) > MAX_PASSWORD:
            password = ""
        row = session.get(PasswordRow, customer_id) if customer_id else None
        counter: PasswordRow | ThrottleRow | None = row
        if client is not None and identifier_key:
            key = hashlib.sha256(f"{identifier_key}\x00{client}".encode()).hexdigest()
            counter = session.get(ThrottleRow, key)
            if counter is None:
                counter = ThrottleRow(key=key, failed_count=0, locked_until=None)
                session.add(counter)
        elif row is None and identifier_key:
            counter = session.get(ThrottleRow, identifier_key)
            if counter is None:
                counter = ThrottleRow(key=identifier_key, failed_count=0, locked_until=None)
                session.add(counter)
        if counter is not None and session.get_bind().dialect.name == "postgresql":
            session.flush()
            session.refresh(counter, with_for_update=True)  # serialise concurrent guesses
        now = self._clock.now()
        locked_until = aware_or_none(counter.locked_until) if counter is not None else None
        if locked_until is not None and locked_until > now:
            seconds = int((locked_until - now).total_seconds()) + 1
            raise RateLimited(
                f"too many failed attempts; try again in {seconds} s",
                field="password",
                retry_after=seconds,
            )
        ok = False
        try:
            ok = self._hasher.verify(row.hash if row is not None else self._dummy, password)
        except (VerificationError, InvalidHashError):
            ok = False
        if row is not None and ok:
            row.failed_count = 0
            row.locked_until = None
            if counter is not row and counter is not None:
                counter.failed_count, counter.locked_until = 0, None
            if self._hasher.check_needs_rehash(row.hash):
                row.hash = self._hasher.hash(password)
            return True
        if row is not None and counter is not row:
            row.failed_count += 1  # counted against the account, but it is not locked by it
        if counter is not None:
            counter.failed_count += 1
            excess = counter.failed_count - self._config.lockout_after
            if excess >= 0:
                delay = min(self._config.lockout_base * (2**excess), self._config.lockout_max)
                counter.locked_until = now + delay
        return False

    def lock_state(self, customer_id: str) -> tuple[int, datetime | None]:
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(PasswordRow, customer_id)
            if row is None:
                raise NotFound(f"no password for {customer_id}", field="customer_id")
            return row.failed_count, aware_or_none(row.locked_until)

    def stored_hash(self, customer_id: str) -> str:
        with unit_of_work(self._engine, write=False) as session:
            row = session.get(PasswordRow, customer_id)
            if row is None:
                raise NotFound(f"no password for {customer_id}", field="customer_id")
            return row.hash


class TotpService:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        vault: PiiVault,
        audit: AuditLog,
        config: IdentityConfig,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._vault = vault
        self._audit = audit
        self._config = config

    @staticmethod
    def _ctx(customer_id: str) -> str:
        return f"identity_totp.secret:{customer_id}"

    def begin_setup(self, actor: Principal, customer_id: str) -> TotpSetup:
        _own(actor, customer_id)
        secret = pyotp.random_base32()
        with unit_of_work(self._engine) as session:
            person = session.get(PersonRow, customer_id)
            if person is None:
                raise NotFound(f"no customer {customer_id}", field="customer_id")
            row = session.get(TotpRow, customer_id)
            if row is not None and row.confirmed_at is not None:
                raise Conflict("TOTP is already set up; remove it first", field="totp")
            enc = self._vault.encrypt(secret, context=self._ctx(customer_id))
            if row is None:
                session.add(
                    TotpRow(
                        customer_id=customer_id,
                        secret_enc=enc,
                        confirmed_at=None,
                        last_step=-1,
                        failed_count=0,
                    )
                )
            else:
                row.secret_enc, row.last_step, row.failed_count = enc, -1, 0
            label = person.phone_masked
        uri = pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=self._config.totp_issuer)
        return TotpSetup(secret, uri)

    def confirm_setup(self, actor: Principal, customer_id: str, code: str) -> list[str]:
        """Prove the authenticator works; returns fresh recovery codes (shown once)."""
        _own(actor, customer_id)
        with unit_of_work(self._engine) as session:
            row = session.get(TotpRow, customer_id)
            if row is None:
                raise NotFound("start TOTP setup first", field="totp")
            if row.confirmed_at is not None:
                raise Conflict("TOTP is already confirmed", field="totp")
            if not self._check_code(row, code):
                raise AuthenticationFailed("wrong or reused code", field="code")
            row.confirmed_at = self._clock.now()
            codes = self._new_recovery_codes(session, customer_id)
            self._audit.append(
                session, actor=actor.id, action="totp.enrol", subject=customer_id, outcome="success"
            )
            emit_auth(
                session,
                self._clock.now(),
                action="totp.enrol",
                outcome="success",
                customer_id=customer_id,
                method="totp",
            )
        return codes

    def _new_recovery_codes(self, session: Session, customer_id: str) -> list[str]:
        session.execute(
            update(RecoveryCodeRow)
            .where(RecoveryCodeRow.customer_id == customer_id, RecoveryCodeRow.used_at.is_(None))
            .values(used_at=self._clock.now())
        )
        codes = [f"{secrets.token_hex(4)}-{secrets.token_hex(4)}" for _ in range(RECOVERY_CODES)]
        for code in codes:
            session.add(
                RecoveryCodeRow(
                    id=new_id(), customer_id=customer_id, code_hash=_sha256(code), used_at=None
                )
            )
        return codes

    def enrolled(self, actor: Principal, customer_id: str) -> bool:
        """Whether ``customer_id`` has a confirmed authenticator (their own, or staff's view)."""
        _own(actor, customer_id)
        with unit_of_work(self._engine, write=False) as session:
            return self.is_enrolled(session, customer_id)

    def is_enrolled(self, session: Session, customer_id: str) -> bool:
        row = session.get(TotpRow, customer_id)
        return row is not None and row.confirmed_at is not None

    def _check_code(self, row: TotpRow, code: str) -> bool:
        if not isinstance(code, str) or not code.isdigit() or len(code) != 6:
            return False
        secret = self._vault.decrypt(row.secret_enc, context=self._ctx(row.customer_id))
        totp = pyotp.TOTP(secret)
        now_step = totp.timecode(self._clock.now())
        for step in (now_step - 1, now_step, now_step + 1):
            if hmac.compare_digest(totp.generate_otp(step), code):
                if step <= row.last_step:
                    return False  # replay: this step (or a later one) was already used
                row.last_step = step
                row.failed_count = 0
                return True
        row.failed_count += 1
        return False

    def verify(self, session: Session, customer_id: str, code: str) -> bool:
        """Check a login/step-up code inside the caller's transaction (replay-safe)."""
        row = session.get(TotpRow, customer_id)
        if row is None or row.confirmed_at is None:
            return False
        if session.get_bind().dialect.name == "postgresql":
            session.refresh(row, with_for_update=True)  # two requests, one code: one wins
        if row.failed_count >= 2 * self._config.second_factor_max_attempts:
            raise RateLimited("too many wrong codes; use a recovery code", field="code")
        return self._check_code(row, code)

    def use_recovery_code(self, session: Session, customer_id: str, code: str) -> bool:
        if not isinstance(code, str) or len(code) > 64:
            return False
        digest = _sha256(code.strip().lower())
        result = session.execute(
            update(RecoveryCodeRow)
            .where(
                RecoveryCodeRow.customer_id == customer_id,
                RecoveryCodeRow.code_hash == digest,
                RecoveryCodeRow.used_at.is_(None),
            )
            .values(used_at=self._clock.now())
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def remaining_recovery_codes(self, customer_id: str) -> int:
        with unit_of_work(self._engine, write=False) as session:
            return len(
                session.scalars(
                    select(RecoveryCodeRow.id).where(
                        RecoveryCodeRow.customer_id == customer_id,
                        RecoveryCodeRow.used_at.is_(None),
                    )
                ).all()
            )


def _sha256(code: str) -> str:
    # Recovery codes carry 64 random bits, so a fast hash is enough (no dictionary to guess from).
    return hashlib.sha256(code.encode()).hexdigest()


__all__ = [
    "PasswordService",
    "TotpService",
    "TotpSetup",
    "check_password_policy",
]
