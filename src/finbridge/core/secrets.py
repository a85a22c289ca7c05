"""The format and strength rules for the platform's own secrets, checked once at start-up.

``Settings`` applies them when it is parsed, so a server with a malformed PII key ring or (in
production) a weak secret key refuses to start with a message naming the variable, instead of
answering 500 to the first registration. The PII vault parses its key ring with the same
function, so the two can never disagree.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Final

MIN_SECRET_LENGTH: Final = 32
MIN_SECRET_DISTINCT: Final = 10  # distinct characters: refuses "aaaa...", "abababab..."
_KID = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def parse_pii_keys(spec: str) -> dict[str, bytes]:
    """``"k2:<base64>,k1:<base64>"`` (newest first) into an ordered key ring of AES-256 keys."""
    ring: dict[str, bytes] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kid, sep, b64 = part.partition(":")
        if not sep or not _KID.fullmatch(kid):
            raise ValueError("pii_keys entries look like '<key id>:<base64 of 32 bytes>'")
        text = b64.strip().replace("+", "-").replace("/", "_")
        try:
            key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            raise ValueError(f"PII key {kid!r} is not valid base64") from None
        if len(key) != 32:
            raise ValueError(f"PII key {kid!r} must be 32 bytes (AES-256), got {len(key)}")
        if kid in ring:
            raise ValueError(f"PII key id {kid!r} appears twice")
        ring[kid] = key
    if not ring:
        raise ValueError("pii_keys is empty")
    return ring


def weak_secret(secret: str) -> str | None:
    """Why ``secret`` is too weak to sign tokens and sessions with, or None if it is not."""
    if len(secret) < MIN_SECRET_LENGTH:
        return f"is {len(secret)} characters long; use at least {MIN_SECRET_LENGTH}"
    if len(set(secret)) < MIN_SECRET_DISTINCT:
        return f"uses fewer than {MIN_SECRET_DISTINCT} distinct characters"
    return None
