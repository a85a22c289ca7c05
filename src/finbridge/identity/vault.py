"""The PII vault: AES-256-GCM field encryption with key ids, keyed blind indexes, masking.

Ciphertext format: ``v1:<key id>:<base64url(nonce || ciphertext+tag)>``. The key id lets the vault
hold several keys at once: new values are sealed with the newest key, old values open with the
key they name, and :func:`reencrypt` moves them forward after a rotation. Every value is bound to
its place (table, column, row id) as associated data, so a ciphertext copied into another
customer's row does not decrypt.

Blind indexes are HMAC-SHA256 of the normalised value under a separate key derived from the
platform secret; they support exact lookup and duplicate detection without decrypting, and do not
change when the encryption keys rotate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from finbridge.core.errors import FinbridgeError
from finbridge.core.secrets import parse_pii_keys
from finbridge.core.settings import Settings

_FORMAT = "v1"
DEV_KEY_ID = "dev"


class VaultError(FinbridgeError):
    """A ciphertext cannot be opened: unknown key, tampered data or wrong binding."""

    code = "vault_error"
    title = "Protected data could not be decrypted"


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _derive(secret: str, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode())


def parse_keys(spec: str) -> dict[str, bytes]:
    """``"k2:<base64>,k1:<base64>"`` (newest first) into an ordered key ring: the same rule
    the settings check at start-up (``finbridge.core.secrets``)."""
    return parse_pii_keys(spec)


def generate_key_spec(kid: str) -> str:
    """A fresh ``<kid>:<base64>`` entry for FINBRIDGE_PII_KEYS."""
    return f"{kid}:{_b64e(AESGCM.generate_key(bit_length=256))}"


@dataclass(frozen=True, slots=True)
class Sealed:
    """What a registration stores for one PII field."""

    ciphertext: str
    blind_index: str
    masked: str


class PiiVault:
    """Encrypts, decrypts and blind-indexes personal data."""

    def __init__(self, keys: dict[str, bytes], index_key: bytes) -> None:
        if not keys:
            raise ValueError("the vault needs at least one key")
        self._keys = dict(keys)
        self._current = next(iter(keys))
        self._index_key = index_key

    @classmethod
    def from_settings(cls, settings: Settings) -> PiiVault:
        secret = settings.secret_key.get_secret_value()
        index_key = _derive(secret, b"finbridge/pii/blind-index/v1")
        if settings.pii_keys is not None:
            return cls(parse_keys(settings.pii_keys.get_secret_value()), index_key)
        if settings.env == "production":  # Settings refuses this too; belt and braces
            raise ValueError("FINBRIDGE_PII_KEYS must be set in production")
        # Development/test only: a key derived from the (dev) secret, so nothing needs setting up.
        return cls({DEV_KEY_ID: _derive(secret, b"finbridge/pii/dev-key/v1")}, index_key)

    @property
    def current_key_id(self) -> str:
        return self._current

    @property
    def key_ids(self) -> list[str]:
        return list(self._keys)

    def encrypt(self, plaintext: str | bytes, *, context: str) -> str:
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        nonce = os.urandom(12)
        sealed = AESGCM(self._keys[self._current]).encrypt(nonce, data, context.encode())
        return f"{_FORMAT}:{self._current}:{_b64e(nonce + sealed)}"

    def decrypt_bytes(self, ciphertext: str, *, context: str) -> bytes:
        version, kid, body = _split(ciphertext)
        key = self._keys.get(kid)
        if version != _FORMAT or key is None:
            raise VaultError(f"no vault key {kid!r} (format {version})")
        raw = _b64d(body)
        try:
            return AESGCM(key).decrypt(raw[:12], raw[12:], context.encode())
        except InvalidTag:
            raise VaultError("ciphertext failed authentication (tampered or misplaced)") from None

    def decrypt(self, ciphertext: str, *, context: str) -> str:
        return self.decrypt_bytes(ciphertext, context=context).decode()

    def key_id_of(self, ciphertext: str) -> str:
        return _split(ciphertext)[1]

    def needs_reencryption(self, ciphertext: str) -> bool:
        return self.key_id_of(ciphertext) != self._current

    def reencrypt(self, ciphertext: str, *, context: str) -> str:
        """Open with whichever key sealed it, seal again with the newest key."""
        return self.encrypt(self.decrypt_bytes(ciphertext, context=context), context=context)

    def blind_index(self, value: str, *, kind: str) -> str:
        """Deterministic keyed digest for exact lookup; ``kind`` separates value spaces."""
        msg = f"{kind}\x00{value}".encode()
        return hmac.new(self._index_key, msg, hashlib.sha256).hexdigest()

    def seal(self, value: str, *, kind: str, context: str, masked: str) -> Sealed:
        return Sealed(
            self.encrypt(value, context=context), self.blind_index(value, kind=kind), masked
        )


def _split(ciphertext: str) -> tuple[str, str, str]:
    parts = ciphertext.split(":", 2) if isinstance(ciphertext, str) else []
    if len(parts) != 3:
        raise VaultError("not a vault ciphertext")
    return parts[0], parts[1], parts[2]


# -- masking: the only form PII takes in responses and log lines ----------------------------------


def mask_id_number(value: str) -> str:
    """``11010519491231002X`` -> ``110***********002X``; short IDs keep 1 + 2: ``A*****63``."""
    if len(value) >= 15:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    if len(value) <= 4:
        return "*" * len(value)
    return value[0] + "*" * (len(value) - 3) + value[-2:]


def mask_phone(value: str) -> str:
    """``13812345678`` -> ``138****5678``."""
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_card(value: str) -> str:
    """``6222021234567890128`` -> ``622202*********0128`` (BIN and last 4, as PCI DSS allows)."""
    if len(value) <= 10:
        return "*" * len(value)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_name(value: str) -> str:
    """``张三丰`` -> ``张**``; ``Anna Lee`` -> ``A*** L**``."""
    if re.search(r"[\u3400-\u9fff]", value):
        return value[0] + "*" * (len(value) - 1)
    return " ".join(w[0] + "*" * (len(w) - 1) for w in value.split())


# Free-text masking for log lines: 18-character IDs, 15-digit legacy IDs, mobiles, card numbers.
_PII_PATTERNS = [
    (re.compile(r"(?<![\dA-Za-z])\d{17}[\dXx](?![\dA-Za-z])"), mask_id_number),
    (re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)"), mask_phone),
    (re.compile(r"(?<!\d)\d{12,19}(?!\d)"), mask_card),
]


def mask_text(text: str) -> str:
    """Mask anything in free text that looks like an ID, mobile or card number."""
    for pattern, masker in _PII_PATTERNS:
        text = pattern.sub(lambda m, f=masker: f(m.group(0)), text)  # type: ignore[misc]
    return text


class PiiMaskingFilter(logging.Filter):
    """Logging filter: masks PII in the message and its arguments before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        # Mask the template and each argument but keep the args tuple: formatters such as
        # uvicorn's access formatter unpack ``record.args`` themselves.
        if isinstance(record.msg, str):
            record.msg = mask_text(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(mask_text(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {
                k: mask_text(v) if isinstance(v, str) else v for k, v in record.args.items()
            }
        return True


LOGGERS_TO_MASK = ("finbridge", "uvicorn.access", "uvicorn.error", "fastapi")


def install_log_masking(*logger_names: str) -> None:
    """Mask PII in log lines of these loggers and of every root handler (idempotent).

    A logger's filter only sees records created on that logger, so the root handlers get the
    filter too: that covers child loggers (``finbridge.banking...``) whose records propagate.
    """
    targets: list[logging.Filterer] = [
        logging.getLogger(n) for n in logger_names or LOGGERS_TO_MASK
    ]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, PiiMaskingFilter) for f in target.filters):
            target.addFilter(PiiMaskingFilter())
