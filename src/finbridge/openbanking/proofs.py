"""Signed proofs a client presents: ``private_key_jwt`` client assertions (RFC 7523, FAPI 2.0)
and DPoP proofs (RFC 9449). joserfc parses and verifies the signatures; the claim rules (time
windows against the injected clock, audience, method and URI, ``ath``, replay) are ours,
because neither joserfc nor Authlib implements DPoP or the FAPI 2.0 assertion rules."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import Engine, delete
from sqlalchemy.exc import IntegrityError

from finbridge.core.clock import Clock
from finbridge.openbanking.errors import OAuthError, invalid_client, invalid_dpop
from finbridge.openbanking.keys import ALLOWED_ALGS, AnyKey, import_public_jwk, thumbprint
from finbridge.openbanking.outbound import FetchRefused
from finbridge.openbanking.tables import SeenJtiRow
from finbridge.store.engine import unit_of_work

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
_MAX_ASSERTION_LIFE = timedelta(minutes=5)
_MAX_JWT = 8192


def b64sha256(value: str) -> str:
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _header(token: str) -> dict[str, Any]:
    try:
        return dict(jws.extract_compact(token.encode("ascii")).protected)
    except (JoseError, ValueError, UnicodeError) as exc:
        raise ValueError(f"not a compact JWS ({type(exc).__name__})") from None


def _unverified_issuer(token: str) -> str | None:
    """Only to find whose keys verify the token; nothing else is read before verification."""
    try:
        claims = json.loads(jws.extract_compact(token.encode("ascii")).payload)
    except (JoseError, ValueError, UnicodeError):
        return None
    issuer = claims.get("iss") if isinstance(claims, dict) else None
    return issuer if isinstance(issuer, str) else None


def _decode(token: str, key: AnyKey | KeySet) -> dict[str, Any]:
    """Signature and algorithm only; the claims are checked by the caller with our clock."""
    if len(token) > _MAX_JWT:
        raise ValueError("token too large")
    try:
        return dict(jwt.decode(token, key, algorithms=list(ALLOWED_ALGS)).claims)
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError(f"signature not valid ({type(exc).__name__})") from None


def _timestamp(claims: Mapping[str, Any], name: str) -> datetime:
    value = claims.get(name)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer NumericDate")
    return datetime.fromtimestamp(value, tz=UTC)


class ReplayStore:
    """JWT ids seen, in the database so every worker process shares them. Inserting is the
    check: the primary key refuses a second use even between racing requests."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def first_use(self, purpose: str, issuer: str, jti: str, expires_at: datetime) -> bool:
        try:
            with unit_of_work(self._engine) as session:
                session.add(
                    SeenJtiRow(purpose=purpose, issuer=issuer, jti=jti, expires_at=expires_at)
                )
        except IntegrityError:
            return False
        return True

    def prune(self) -> int:
        with unit_of_work(self._engine) as session:
            result = session.execute(
                delete(SeenJtiRow).where(SeenJtiRow.expires_at < self._clock.now())
            )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class ClientAssertionCheck:
    """Verifies ``private_key_jwt`` for one issuer identifier (the only accepted audience)."""

    issuer: str
    clock: Clock
    replay: ReplayStore

    def verify(
        self,
        form: Mapping[str, str],
        jwks_of: Callable[[str, str | None], dict[str, Any] | None],
    ) -> str:
        """The authenticated ``client_id``, or ``invalid_client``. ``jwks_of(client_id, kid)``
        gives the client's keys for the assertion's ``kid`` (a published set is fetched again
        for a ``kid`` it does not know yet: key rotation)."""
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            raise invalid_client("private_key_jwt client authentication is required")
        token = form["client_assertion"]
        client_id = form.get("client_id") or _unverified_issuer(token)
        if not isinstance(client_id, str) or not client_id:
            raise invalid_client("the assertion names no client")
        try:
            header = _header(token)
        except ValueError as exc:
            raise invalid_client(f"client assertion refused: {exc}") from None
        kid = header.get("kid")
        try:
            jwks = jwks_of(client_id, kid if isinstance(kid, str) else None)
        except FetchRefused as exc:
            raise invalid_client(f"the client's JWKS URI: {exc}") from None
        if jwks is None:
            raise invalid_client("unknown or unapproved client")
        try:
            alg = header.get("alg")
            if alg not in ALLOWED_ALGS:
                raise ValueError(f"algorithm {alg!r} is not accepted")
            claims = _decode(token, KeySet.import_key_set(jwks))  # type: ignore[arg-type]
        except ValueError as exc:
            raise invalid_client(f"client assertion refused: {exc}") from None
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise invalid_client("the assertion's iss and sub must both be the client_id")
        audience = claims.get("aud")
        if audience != self.issuer and not (
            isinstance(audience, list) and audience == [self.issuer]
        ):
            raise invalid_client(f"the assertion's aud must be the issuer {self.issuer}")
        now = self.clock.now()
        try:
            expires = _timestamp(claims, "exp")
            issued = _timestamp(claims, "iat") if "iat" in claims else now
        except ValueError as exc:
            raise invalid_client(f"client assertion refused: {exc}") from None
        if expires <= now:
            raise invalid_client("the client assertion has expired")
        if expires - now > _MAX_ASSERTION_LIFE or issued > now + timedelta(seconds=30):
            raise invalid_client("the client assertion lives too long or was issued in the future")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 8 <= len(jti) <= 200:
            raise invalid_client("the client assertion needs a jti of 8 to 200 characters")
        if not self.replay.first_use("assertion", client_id, jti, expires):
            raise invalid_client("the client assertion's jti was already used")
        return client_id


@dataclass(frozen=True, slots=True)
class DPoPProof:
    jkt: str
    jti: str


class DPoPCheck:
    """RFC 9449 proof checks: typ, algorithm, embedded public key, signature, htm, htu, iat
    window, replay, ``ath`` and (when configured) a server nonce."""

    def __init__(
        self,
        clock: Clock,
        replay: ReplayStore,
        secret: bytes,
        *,
        window: timedelta,
        require_nonce: bool,
    ) -> None:
        self._clock = clock
        self._replay = replay
        self._secret = secret
        self._window = window
        self.require_nonce = require_nonce

    def nonce(self, offset: int = 0) -> str:
        """A stateless nonce: an HMAC of the current time bucket (the previous one is accepted
        too, so a nonce stays good for one to two windows)."""
        bucket = int(self._clock.now().timestamp() // self._window.total_seconds()) - offset
        mac = hmac.new(self._secret, f"dpop-nonce:{bucket}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac[:18]).decode("ascii")

    def verify(
        self,
        proof: str | None,
        *,
        method: str,
        url: str,
        access_token: str | None = None,
        resource: bool = False,
    ) -> DPoPProof:
        def refuse(why: str) -> OAuthError:
            return invalid_dpop(why, resource=resource)

        if not proof:
            raise refuse("a DPoP proof header is required")
        try:
            header = _header(proof)
        except ValueError as exc:
            raise refuse(str(exc)) from None
        if header.get("typ") != "dpop+jwt":
            raise refuse("the proof's typ must be dpop+jwt")
        if header.get("alg") not in ALLOWED_ALGS:
            raise refuse(f"the proof's algorithm must be one of {', '.join(ALLOWED_ALGS)}")
        try:
            key = import_public_jwk(header.get("jwk"), "jwk")
            claims = _decode(proof, key)
        except ValueError as exc:
            raise refuse(str(exc)) from None
        if claims.get("htm") != method:
            raise refuse("the proof's htm is not this request's method")
        if not isinstance(claims.get("htu"), str) or _plain_uri(claims["htu"]) != _plain_uri(url):
            raise refuse("the proof's htu is not this request's URI")
        now = self._clock.now()
        try:
            issued = _timestamp(claims, "iat")
        except ValueError as exc:
            raise refuse(str(exc)) from None
        if abs(issued - now) > self._window:
            raise refuse("the proof's iat is outside the accepted window")
        if self.require_nonce and claims.get("nonce") not in (self.nonce(), self.nonce(1)):
            error = OAuthError(
                "use_dpop_nonce",
                "retry with the server's DPoP nonce",
                status=401 if resource else 400,
                scheme="DPoP" if resource else None,
                nonce=self.nonce(),
            )
            raise error
        if access_token is not None and claims.get("ath") != b64sha256(access_token):
            raise refuse("the proof's ath does not match the access token")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 8 <= len(jti) <= 200:
            raise refuse("the proof needs a jti of 8 to 200 characters")
        jkt = thumbprint(key)
        if not self._replay.first_use("dpop", jkt, jti, issued + 2 * self._window):
            raise refuse("the proof was already used (replay)")
        return DPoPProof(jkt=jkt, jti=jti)


def _plain_uri(uri: str) -> str:
    """RFC 9449 compares htu without query and fragment; scheme and host are case-insensitive."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", "", ""))
