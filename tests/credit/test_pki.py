"""Partnership certificates: validity from the real clock, renewal under the same CA."""

from __future__ import annotations

import datetime as dt
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

from finbridge.core.clock import SystemClock
from finbridge.core.errors import NotFound, ValidationError
from finbridge.core.tls import tls_context
from finbridge.credit.pki import (
    certificate_expiry,
    days_left,
    make_certificates,
    renew_certificates,
)


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_validity_comes_from_the_real_clock_not_a_test_clock(tmp_path: Path, clock) -> None:
    # The suite's clock sits at 2026-11-02; TLS libraries check against the real time, so a
    # certificate minted from the test clock would expire while the test still passes its own
    # checks. make_certificates takes no clock at all.
    assert clock.now().date() == dt.date(2026, 11, 2)
    before = SystemClock().now()
    paths = make_certificates(tmp_path, days=400)
    after = SystemClock().now()
    for role in ("bank", "partner"):
        cert = _cert(paths[role])
        assert cert.not_valid_before_utc <= before
        assert (
            before + dt.timedelta(days=400) - dt.timedelta(seconds=1)
            <= (cert.not_valid_after_utc)
            <= after + dt.timedelta(days=400)
        )
    assert 399 < days_left(paths["bank"]) <= 400
    assert days_left(paths["ca"]) > days_left(paths["bank"])  # the CA outlives renewals
    assert (tmp_path / "ca.key").stat().st_mode & 0o077 == 0


def test_default_validity_is_one_year(tmp_path: Path) -> None:
    paths = make_certificates(tmp_path)
    assert 364 < days_left(paths["partner"]) <= 365
    with pytest.raises(ValidationError, match="at least one day"):
        make_certificates(tmp_path / "x", days=0)


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext) -> str:
    """One TLS handshake over a socket pair; the common name the client saw."""
    a, b = socket.socketpair()
    result: dict[str, BaseException] = {}

    def serve() -> None:
        try:
            with server_ctx.wrap_socket(a, server_side=True) as s:
                s.recv(1)
        except (OSError, ssl.SSLError) as exc:
            result["error"] = exc

    t = threading.Thread(target=serve)
    t.start()
    try:
        with client_ctx.wrap_socket(b, server_hostname="localhost") as c:
            subject = dict(x[0] for x in c.getpeercert()["subject"])  # type: ignore[index]
            c.send(b"x")
            return str(subject["commonName"])
    finally:
        t.join(5)


def test_renewal_keeps_the_ca_so_the_other_side_trusts_the_new_certificates(
    tmp_path: Path,
) -> None:
    bank_dir = tmp_path / "bank"
    make_certificates(bank_dir, days=10)
    partner_view = tmp_path / "partner"  # the partner holds the CA and its own pair only
    partner_view.mkdir()
    for name in ("ca.pem", "partner.pem", "partner.key"):
        (partner_view / name).write_bytes((bank_dir / name).read_bytes())
    ca_before = (bank_dir / "ca.pem").read_bytes()
    old_serial = _cert(bank_dir / "bank.pem").serial_number

    renewed = renew_certificates(bank_dir, days=365, roles=("bank",))

    assert set(renewed) == {"bank"} and (bank_dir / "ca.pem").read_bytes() == ca_before
    assert _cert(bank_dir / "bank.pem").serial_number != old_serial
    assert 364 < days_left(bank_dir / "bank.pem") <= 365
    assert certificate_expiry(bank_dir / "partner.pem") < certificate_expiry(bank_dir / "bank.pem")
    # The partner, untouched, still trusts the bank's renewed certificate.
    server = tls_context(bank_dir, "bank", server=True)
    client = tls_context(partner_view, "partner", server=False)
    assert _handshake(server, client) == "bank"


def test_renewal_refuses_without_the_ca_or_past_the_ca(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="no partnership CA"):
        renew_certificates(tmp_path)
    make_certificates(tmp_path, days=30)
    with pytest.raises(ValidationError, match="CA expires"):
        renew_certificates(tmp_path, days=3650 + 30)
    assert set(renew_certificates(tmp_path, days=30)) == {"bank", "partner"}
