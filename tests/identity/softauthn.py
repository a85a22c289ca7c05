"""A software WebAuthn authenticator for tests, on `cryptography` + `cbor2` (ES256).

It builds exactly what a browser + platform authenticator would send: clientDataJSON,
authenticator data (RP id hash, flags, sign counter, attested credential data with a COSE key)
and either a ``none`` or a ``packed`` self-attestation, then ECDSA-signed assertions.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, AT = 0x01, 0x04, 0x40


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    rp_id: str = "localhost"
    origin: str = "http://localhost:8000"
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    sign_count: int = 0

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps(
            {
                "type": kind,
                "challenge": challenge,
                "origin": origin or self.origin,
                "crossOrigin": False,
            }
        ).encode()

    def _auth_data(self, flags: int, attested: bytes = b"", rp_id: str | None = None) -> bytes:
        rp_hash = hashlib.sha256((rp_id or self.rp_id).encode()).digest()
        return rp_hash + bytes([flags]) + struct.pack(">I", self.sign_count) + attested

    def create(
        self,
        options: dict[str, Any],
        *,
        fmt: str = "none",
        origin: str | None = None,
        rp_id: str | None = None,
    ) -> dict[str, Any]:
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attested = (
            b"\x00" * 16
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self._cose_key()
        )
        auth_data = self._auth_data(UP | UV | AT, attested, rp_id)
        if fmt == "packed":
            to_sign = auth_data + hashlib.sha256(client_data).digest()
            att_stmt = {"alg": -7, "sig": self.key.sign(to_sign, ec.ECDSA(hashes.SHA256()))}
        else:
            att_stmt = {}
        attestation = cbor2.dumps({"fmt": fmt, "attStmt": att_stmt, "authData": auth_data})
        cid = b64e(self.credential_id)
        return {
            "id": cid,
            "rawId": cid,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64e(client_data),
                "attestationObject": b64e(attestation),
            },
            "clientExtensionResults": {},
        }

    def get(
        self,
        options: dict[str, Any],
        *,
        origin: str | None = None,
        rp_id: str | None = None,
        count: bool = True,
    ) -> dict[str, Any]:
        if count:
            self.sign_count += 1
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        auth_data = self._auth_data(UP | UV, rp_id=rp_id)
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        cid = b64e(self.credential_id)
        return {
            "id": cid,
            "rawId": cid,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64e(client_data),
                "authenticatorData": b64e(auth_data),
                "signature": b64e(signature),
                "userHandle": None,
            },
            "clientExtensionResults": {},
        }
