"""Payment-code payloads (what a merchant's QR carries) and their QR images.

A payload is ``FBPAY1.<body>.<mac>``: the body is compact JSON (code id, merchant id, amount and
currency for a dynamic code, expiry), base64url without padding; the mac is HMAC-SHA256 of the
body under a key derived from the platform's secret, so only the server can issue or check a
code. The database row of the code stays the truth: the server also checks the body against it.
The QR image is rendered by ``segno`` (pure Python, ISO/IEC 18004).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
from typing import Any

from finbridge.core.errors import ValidationError

PREFIX = "FBPAY1"
MAX_PAYLOAD = 1024


def derive_key(secret: str) -> bytes:
    """The payment-code key, separate from every other use of the platform secret."""
    return hmac.new(secret.encode(), b"finbridge.payments.code.v1", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(body: dict[str, Any], key: bytes) -> str:
    raw = _b64(json.dumps(body, separators=(",", ":"), sort_keys=True).encode())
    mac = hmac.new(key, raw.encode("ascii"), hashlib.sha256).digest()
    return f"{PREFIX}.{raw}.{_b64(mac)}"


def verify(payload: object, key: bytes) -> dict[str, Any]:
    """The body of a genuine payload; a malformed or tampered one is refused naming ``code``."""
    if not isinstance(payload, str) or len(payload) > MAX_PAYLOAD:
        raise ValidationError("not a payment code", field="code")
    parts = payload.strip().split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise ValidationError("not a payment code", field="code")
    try:
        mac = _unb64(parts[2])
    except ValueError:
        raise ValidationError("not a payment code", field="code") from None
    expected = hmac.new(key, parts[1].encode("ascii", "replace"), hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise ValidationError("the payment code's signature does not match", field="code")
    try:
        body = json.loads(_unb64(parts[1]))
    except ValueError:  # pragma: no cover - we signed it, so we wrote it
        raise ValidationError("not a payment code", field="code") from None
    if not isinstance(body, dict):  # pragma: no cover - as above
        raise ValidationError("not a payment code", field="code")
    return body


def qr_svg(payload: str, *, scale: int = 4) -> str:
    """The payload as an inline SVG QR code (medium error correction)."""
    import segno

    return str(segno.make(payload, error="m").svg_inline(scale=scale))


def qr_png(payload: str, *, scale: int = 6) -> bytes:
    import segno

    out = io.BytesIO()
    segno.make(payload, error="m").save(out, kind="png", scale=scale)
    return out.getvalue()
