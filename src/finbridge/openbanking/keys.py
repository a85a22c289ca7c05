"""Keys: the server's signing key (from settings, or derived from the secret key in
development so every process agrees) and the checks of keys presented by clients."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jwk
from joserfc.errors import JoseError

from finbridge.core.settings import Settings

# Asymmetric algorithms FAPI 2.0 allows; "none" and HMAC are never accepted from a client.
ALLOWED_ALGS: tuple[str, ...] = ("ES256", "PS256", "EdDSA")
_P256_ORDER = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)

AnyKey = jwk.ECKey | jwk.RSAKey | jwk.OKPKey


def server_key(settings: Settings) -> jwk.ECKey:
    """The server's ES256 signing key with its ``kid``.

    Production must configure ``FINBRIDGE_OPENBANKING__SIGNING_KEY``; elsewhere the key is
    derived from ``secret_key`` (not generated), so N server workers sign with one key and
    a restart does not invalidate issued tokens. No clock is involved.
    """
    configured = settings.openbanking.signing_key
    if configured is not None:
        key = jwk.import_key(json.loads(configured.get_secret_value()), "EC")
        if not isinstance(key, jwk.ECKey) or not key.is_private:
            raise ValueError("FINBRIDGE_OPENBANKING__SIGNING_KEY must be a private EC JWK")
    elif settings.env == "production":
        raise ValueError("FINBRIDGE_OPENBANKING__SIGNING_KEY must be set in production")
    else:
        seed = hashlib.sha256(
            b"finbridge-openbanking-signing:" + settings.secret_key.get_secret_value().encode()
        ).digest()
        scalar = int.from_bytes(seed, "big") % (_P256_ORDER - 1) + 1
        private = ec.derive_private_key(scalar, ec.SECP256R1())
        key = jwk.ECKey.import_key(private)
    return jwk.ECKey.import_key(
        key.as_dict(private=True), {"kid": key.thumbprint(), "use": "sig", "alg": "ES256"}
    )


def public_jwks(key: jwk.ECKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False)]}


def import_public_jwk(data: Any, field: str) -> AnyKey:
    """A client's public key; private material or a symmetric key is refused."""
    if not isinstance(data, dict) or data.get("kty") not in ("EC", "RSA", "OKP"):
        raise ValueError(f"{field}: an EC, RSA or OKP public JWK is required")
    if any(member in data for member in ("d", "p", "q", "dp", "dq", "qi")):
        raise ValueError(f"{field}: a private key was sent; send only the public key")
    try:
        key = jwk.import_key(data)
    except (JoseError, ValueError, TypeError) as exc:
        raise ValueError(f"{field}: not a usable JWK ({exc})") from None
    if not isinstance(key, AnyKey):
        raise ValueError(f"{field}: an asymmetric key is required")
    return key


def validate_jwks(jwks: Any) -> dict[str, Any]:
    """A client's JWKS as registered: public asymmetric keys only, at least one."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ValueError('jwks: {"keys": [...]} with at least one public key is required')
    clean = [import_public_jwk(k, "jwks").as_dict(private=False) for k in jwks["keys"]]
    for original, public in zip(jwks["keys"], clean, strict=True):
        if "kid" in original:
            public["kid"] = original["kid"]
    return {"keys": clean}


def thumbprint(key: AnyKey) -> str:
    """The RFC 7638 SHA-256 thumbprint (the ``jkt`` a DPoP-bound token carries)."""
    return key.thumbprint()
