"""The partnership's certificates: one CA, one leaf certificate per party role (mutual TLS).

Validity always comes from the real clock, never from an injected one: the TLS library checks
certificates against the operating system's time, so a certificate minted from a test or replay
clock is a time bomb (the suite broke once its fixed clock fell 30 days behind the calendar).

A folder made by :func:`make_certificates` holds ``ca.pem`` and ``ca.key`` (the CA; keep the key
offline in production), and ``<role>.pem`` / ``<role>.key`` per role. :func:`renew_certificates`
re-issues the leaf certificates under the same CA, so the other party keeps trusting them, and
writes each file atomically so a running server reloading them never reads half a file.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from finbridge.core.clock import SystemClock
from finbridge.core.errors import NotFound, ValidationError

ROLES = ("bank", "partner")
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "finbridge partnership CA")])
CA_MIN_DAYS = 10 * 365  # the CA outlives many leaf renewals
BACKDATE = dt.timedelta(minutes=5)  # tolerate a peer whose clock is a little behind ours


def _real_now() -> dt.datetime:
    # Deliberately not an injectable clock: see the module docstring.
    return SystemClock().now()


def _write_atomically(path: Path, data: bytes, *, private: bool = False) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    if private:
        tmp.chmod(0o600)
    os.replace(tmp, path)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _leaf(
    role: str, ca_key: ec.EllipticCurvePrivateKey, days: int
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    now = _real_now()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, role)]))
        .issuer_name(CA_NAME)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _write_leaf(directory: Path, role: str, ca_key: ec.EllipticCurvePrivateKey, days: int) -> Path:
    cert, key = _leaf(role, ca_key, days)
    # Key first: a reader that sees the new certificate then finds its key (a reload that
    # catches the pair in between fails its key check and keeps the previous pair).
    _write_atomically(directory / f"{role}.key", _key_pem(key), private=True)
    _write_atomically(directory / f"{role}.pem", cert.public_bytes(serialization.Encoding.PEM))
    return directory / f"{role}.pem"


def make_certificates(directory: Path, *, days: int = 365) -> dict[str, Path]:
    """A new partnership CA and one certificate per role valid ``days`` from now (real time).

    SANs are 127.0.0.1 and localhost. Returns the paths of ``ca`` and each role's certificate.
    """
    if days < 1:
        raise ValidationError("certificates must be valid for at least one day", field="days")
    directory.mkdir(parents=True, exist_ok=True)
    now = _real_now()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(CA_NAME)
        .issuer_name(CA_NAME)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + dt.timedelta(days=max(days, CA_MIN_DAYS)))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write_atomically(directory / "ca.key", _key_pem(ca_key), private=True)
    _write_atomically(directory / "ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    paths = {"ca": directory / "ca.pem"}
    for role in ROLES:
        paths[role] = _write_leaf(directory, role, ca_key, days)
    return paths


def renew_certificates(
    directory: Path, *, days: int = 365, roles: tuple[str, ...] | None = None
) -> dict[str, Path]:
    """Re-issue the leaf certificates in ``directory`` under its existing CA (same trust).

    ``roles`` defaults to every role that has a certificate there. A running party server
    picks the new files up for new connections (see ``finbridge.party``); the other side needs
    nothing, since it trusts the CA, not the leaf.
    """
    if days < 1:
        raise ValidationError("certificates must be valid for at least one day", field="days")
    ca_key_path, ca_path = directory / "ca.key", directory / "ca.pem"
    if not ca_key_path.exists() or not ca_path.exists():
        raise NotFound(f"no partnership CA (ca.pem + ca.key) in {directory}", field="directory")
    ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValidationError("ca.key is not the partnership CA's EC key", field="directory")
    ca_expiry = certificate_expiry(ca_path)
    if ca_expiry < _real_now() + dt.timedelta(days=days):
        raise ValidationError(
            f"the partnership CA expires on {ca_expiry:%Y-%m-%d}, before certificates renewed "
            f"for {days} days would; issue a new partnership with `credit joint certs --out`",
            field="days",
        )
    chosen = roles or tuple(r for r in ROLES if (directory / f"{r}.pem").exists())
    if not chosen:
        raise NotFound(f"no party certificate to renew in {directory}", field="directory")
    for role in chosen:
        if role not in ROLES:
            raise ValidationError(f"role must be one of {ROLES}", field="role")
    return {role: _write_leaf(directory, role, ca_key, days) for role in chosen}


def certificate_expiry(path: Path) -> dt.datetime:
    """When the (first) certificate in a PEM file stops being valid (UTC)."""
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return cert.not_valid_after_utc


def days_left(path: Path) -> float:
    """Days until the certificate at ``path`` expires, against the real clock."""
    return (certificate_expiry(path) - _real_now()).total_seconds() / 86400
