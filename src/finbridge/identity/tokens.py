"""Signed access tokens: compact JWS (RFC 7515) with Ed25519 ("EdDSA", RFC 8037), ``kid`` header.

We write the ~60 lines of JWS ourselves on `cryptography` instead of a JOSE library so the
verifier accepts exactly one algorithm and one header shape: no ``alg: none``, no HMAC/RSA
confusion, no embedded ``jwk``/``jku`` keys, no compression. Signing keys live in the database
(private half sealed in the PII vault) so every API worker signs and verifies with the same set;
rotation adds a new key and retires the old one, which keeps verifying for a grace period longer
than the token lifetime.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import Engine, select, update

from finbridge.core.clock import Clock
from finbridge.core.errors import AuthenticationFailed
from finbridge.core.ids import new_id
from finbridge.identity._time import aware_or_none
from finbridge.identity.tables import SigningKeyRow
from finbridge.identity.vault import PiiVault
from finbridge.store.engine import unit_of_work

ALG = "EdDSA"
TYP = "at+jwt"  # RFC 9068 access-token type, so an ID token or other JWT is never accepted
LEEWAY = timedelta(seconds=30)
MAX_TOKEN_LENGTH = 4096
RELOAD_SECONDS = 60.0


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    if not text or len(text) > MAX_TOKEN_LENGTH or "=" in text:
        raise ValueError("bad base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class AccessClaims:
    customer_id: str  # the token's "sub" claim
    session_id: str
    issued_at: datetime
    expires_at: datetime
    amr: tuple[str, ...]
    token_id: str


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None
    retired_at: datetime | None


class TokenSigner:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        vault: PiiVault,
        *,
        issuer: str,
        ttl: timedelta,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._vault = vault
        self._issuer = issuer
        self._ttl = ttl
        self._lock = threading.Lock()
        self._keys: dict[str, _Key] = {}
        self._current: str | None = None
        self._loaded_at = 0.0

    @property
    def grace(self) -> timedelta:
        """How long a retired key keeps verifying: longer than any token it signed lives."""
        return self._ttl + LEEWAY * 2

    def _ctx(self, kid: str) -> str:
        return f"identity_signing_keys.private:{kid}"

    def _load(self) -> None:
        with unit_of_work(self._engine, write=False) as session:
            rows = session.scalars(select(SigningKeyRow).order_by(SigningKeyRow.created_at)).all()
        keys: dict[str, _Key] = {}
        current = None
        for row in rows:
            public = Ed25519PublicKey.from_public_bytes(row.public_key)
            private = None
            if row.retired_at is None:
                raw = self._vault.decrypt_bytes(row.private_key_enc, context=self._ctx(row.kid))
                private = Ed25519PrivateKey.from_private_bytes(raw)
                current = row.kid
            keys[row.kid] = _Key(row.kid, public, private, aware_or_none(row.retired_at))
        self._keys, self._current = keys, current
        self._loaded_at = time.monotonic()

    def _new_key_row(self) -> SigningKeyRow:
        private = Ed25519PrivateKey.generate()
        kid = new_id()
        raw = private.private_bytes_raw()
        return SigningKeyRow(
            kid=kid,
            public_key=private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw),
            private_key_enc=self._vault.encrypt(raw, context=self._ctx(kid)),
            created_at=self._clock.now(),
            retired_at=None,
        )

    def ensure_key(self) -> str:
        """Load (or create) the signing key; call before opening a transaction that signs."""
        with self._lock:
            # Reload now and then so a rotation done by another worker is picked up.
            if self._current is None or time.monotonic() - self._loaded_at > RELOAD_SECONDS:
                self._load()
            if self._current is None:
                with unit_of_work(self._engine) as session:
                    # Under the write lock a concurrent worker may have created one already.
                    existing = session.scalar(
                        select(SigningKeyRow.kid).where(SigningKeyRow.retired_at.is_(None))
                    )
                    if existing is None:
                        session.add(self._new_key_row())
                self._load()
            assert self._current is not None
            return self._current

    def rotate(self) -> str:
        """Start signing with a fresh key; the previous one only verifies from now on."""
        with unit_of_work(self._engine) as session:
            session.execute(
                update(SigningKeyRow)
                .where(SigningKeyRow.retired_at.is_(None))
                .values(retired_at=self._clock.now())
            )
            row = self._new_key_row()
            session.add(row)
        with self._lock:
            self._load()
        return row.kid

    def public_jwks(self) -> dict[str, Any]:
        """The verification keys (RFC 8037 OKP JWKs) for other services."""
        self.ensure_key()
        now = self._clock.now()
        return {
            "keys": [
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "kid": k.kid,
                    "alg": ALG,
                    "use": "sig",
                    "x": _b64e(k.public.public_bytes(Encoding.Raw, PublicFormat.Raw)),
                }
                for k in self._keys.values()
                if k.retired_at is None or now - k.retired_at <= self.grace
            ]
        }

    def sign(self, customer_id: str, session_id: str, amr: list[str]) -> tuple[str, AccessClaims]:
        kid = self._current if self._current is not None else self.ensure_key()
        key = self._keys[kid]
        assert key.private is not None
        now = self._clock.now().replace(microsecond=0)
        claims = AccessClaims(customer_id, session_id, now, now + self._ttl, tuple(amr), new_id())
        header = {"alg": ALG, "typ": TYP, "kid": kid}
        payload = {
            "iss": self._issuer,
            "sub": customer_id,
            "sid": session_id,
            "iat": int(now.timestamp()),
            "exp": int(claims.expires_at.timestamp()),
            "amr": list(amr),
            "jti": claims.token_id,
        }
        signing_input = (
            f"{_b64e(json.dumps(header, separators=(',', ':')).encode())}."
            f"{_b64e(json.dumps(payload, separators=(',', ':')).encode())}"
        )
        signature = key.private.sign(signing_input.encode())
        return f"{signing_input}.{_b64e(signature)}", claims

    def verify(self, token: str) -> AccessClaims:
        """Check shape, header, signature, issuer and lifetime; any doubt is a refusal."""
        refused = AuthenticationFailed("invalid or expired access token")
        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH or token.count(".") != 2:
            raise refused
        head_b64, body_b64, sig_b64 = token.split(".")
        try:
            header = json.loads(_b64d(head_b64))
            signature = _b64d(sig_b64)
        except ValueError:
            raise refused from None
        if not isinstance(header, dict) or set(header) != {"alg", "typ", "kid"}:
            raise refused
        if header["alg"] != ALG or header["typ"] != TYP:
            raise refused
        key = self._key_for(header["kid"])
        if key is None:
            raise refused
        try:
            key.public.verify(signature, f"{head_b64}.{body_b64}".encode())
            claims = json.loads(_b64d(body_b64))
        except (InvalidSignature, ValueError):
            raise refused from None
        now = self._clock.now()
        if key.retired_at is not None and now - key.retired_at > self.grace:
            raise refused
        try:
            issued = datetime.fromtimestamp(int(claims["iat"]), tz=now.tzinfo)
            expires = datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo)
            if claims["iss"] != self._issuer or not isinstance(claims["sub"], str):
                raise refused
            if expires + LEEWAY < now or issued - LEEWAY > now:
                raise refused
            return AccessClaims(
                claims["sub"],
                str(claims["sid"]),
                issued,
                expires,
                tuple(str(a) for a in claims["amr"]),
                str(claims["jti"]),
            )
        except (KeyError, TypeError, ValueError):
            raise refused from None

    def _key_for(self, kid: object) -> _Key | None:
        if not isinstance(kid, str) or len(kid) > 64:
            return None
        key = self._keys.get(kid)
        # Another worker may have rotated: reload, but at most once a second so random kids
        # cannot turn every request into a database read.
        if key is None and time.monotonic() - self._loaded_at > 1.0:
            with self._lock:
                self._load()
            key = self._keys.get(kid)
        return key


__all__ = ["AccessClaims", "TokenSigner"]
