"""Operator API keys: ``fbk_<prefix>_<secret>``, scoped by role, hashed at rest.

The prefix is a public lookup handle; the secret is compared as an HMAC-SHA256 keyed with the
platform secret, so a stolen table is useless without the settings secret, and the comparison is
constant-time. A wrong key costs the same work as a right one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update

from finbridge.core.clock import Clock
from finbridge.core.errors import AuthenticationFailed, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal, Role
from finbridge.identity.tables import ApiKeyRow
from finbridge.store.engine import unit_of_work

KEY_PREFIX = "fbk"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    prefix: str
    name: str
    roles: tuple[Role, ...]
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    plaintext: str  # shown once, never stored


class VerifiedKeys:
    """API keys verified in the last few seconds, so a busy caller is not looked up per request.

    Keyed by the HMAC of the whole presented key (the plaintext is never kept). Only successful
    verifications are remembered; a revocation through this process forgets the key at once,
    one made elsewhere (the CLI, another server process) takes effect within ``ttl_s``.
    """

    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self._max = max_entries
        self._entries: dict[str, tuple[float, str, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> Principal | None:
        entry = self._entries.get(digest)
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[2]

    def put(self, digest: str, key_id: str, principal: Principal) -> None:
        if self.ttl_s <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()  # crude but bounded; the next requests refill it
            self._entries[digest] = (time.monotonic() + self.ttl_s, key_id, principal)

    def forget(self, key_id: str) -> None:
        with self._lock:
            for digest in [d for d, e in self._entries.items() if e[1] == key_id]:
                del self._entries[digest]


class ApiKeyService:
    def __init__(
        self, engine: Engine, clock: Clock, secret: str, cache: VerifiedKeys | None = None
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._secret = secret.encode()
        self._cache = cache

    def _hash(self, secret: str) -> str:
        return hmac.new(self._secret, secret.encode(), hashlib.sha256).hexdigest()

    def issue(self, name: str, roles: list[Role] | tuple[Role, ...]) -> IssuedKey:
        if not name.strip():
            raise ValidationError("name must not be empty", field="name")
        if not roles:
            raise ValidationError("at least one role is required", field="roles")
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        row = ApiKeyRow(
            id=new_id(),
            prefix=prefix,
            secret_hash=self._hash(secret),
            name=name.strip(),
            roles=[Role(r).value for r in roles],
            created_at=self._clock.now(),
            revoked_at=None,
        )
        with unit_of_work(self._engine) as session:
            session.add(row)
        return IssuedKey(_to_key(row), f"{KEY_PREFIX}_{prefix}_{secret}")

    def cached(self, presented: str) -> Principal | None:
        """The principal of a key verified moments ago, without touching the database."""
        if self._cache is None:
            return None
        return self._cache.get(self._hash(presented))

    def authenticate(self, presented: str) -> Principal:
        principal = self.cached(presented)
        if principal is not None:
            return principal
        parts = presented.split("_", 2)
        prefix = parts[1] if len(parts) == 3 and parts[0] == KEY_PREFIX else ""
        secret = parts[2] if len(parts) == 3 else presented
        with unit_of_work(self._engine, write=False) as session:
            row = session.scalar(select(ApiKeyRow).where(ApiKeyRow.prefix == prefix))
        # Always hash and compare, even for unknown prefixes, so timing says nothing.
        expected = row.secret_hash if row is not None else "0" * 64
        matches = hmac.compare_digest(self._hash(secret), expected)
        if row is None or not matches or row.revoked_at is not None:
            raise AuthenticationFailed("invalid or revoked API key")
        principal = Principal.operator(row.id, [Role(r) for r in row.roles], display=row.name)
        if self._cache is not None:
            self._cache.put(self._hash(presented), row.id, principal)
        return principal

    def revoke(self, key_id: str) -> None:
        with unit_of_work(self._engine) as session:
            result = session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.id == key_id, ApiKeyRow.revoked_at.is_(None))
                .values(revoked_at=self._clock.now())
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no active API key {key_id}", field="key_id")
        if self._cache is not None:
            self._cache.forget(key_id)

    def list(self) -> list[ApiKey]:
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)).all()
        return [_to_key(r) for r in rows]


def _to_key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        prefix=row.prefix,
        name=row.name,
        roles=tuple(Role(r) for r in row.roles),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )
