"""The partnership's TLS rule, written once: TLS 1.3, a role's own certificate, and peers only
from the partnership CA (mutual TLS). Credit's party links and the simulated correspondent bank
both speak it; it lives here so neither has to load the other's engine."""

from __future__ import annotations

import ssl
from pathlib import Path


def tls_context(cert_dir: Path, role: str, *, server: bool) -> ssl.SSLContext:
    """TLS 1.3 with ``role``'s certificate (``<role>.pem``/``.key``), peers signed by
    ``ca.pem`` only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert_dir / f"{role}.pem", cert_dir / f"{role}.key")
    ctx.load_verify_locations(cert_dir / "ca.pem")
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
