"""The party server: mutual TLS by role, expiry warning, renewed certificates without restart."""

from __future__ import annotations

import logging
import socket
import ssl
from pathlib import Path

import pytest

from finbridge.credit import PartyEndpoint, PeerLink, make_certificates, renew_certificates
from finbridge.party import PartyServer


def _served_certificate(url: str, certs: Path) -> dict:  # type: ignore[type-arg]
    """The certificate the server presents to a new connection (as the partner)."""
    host, port = url.removeprefix("https://").rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=certs / "ca.pem")
    ctx.load_cert_chain(certs / "partner.pem", certs / "partner.key")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=host) as tls:
            return tls.getpeercert()  # type: ignore[return-value]


def test_warns_before_expiry_and_serves_renewed_certificates_without_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    certs = tmp_path / "certs"
    make_certificates(certs, days=10)
    with caplog.at_level(logging.WARNING, logger="finbridge.party"):
        server = PartyServer(PartyEndpoint("bank"), certs, warn_days=30).serve_in_background()
    try:
        assert "bank certificate" in caplog.text and "expires in 10.0 days" in caplog.text
        assert "--renew" in caplog.text
        before = _served_certificate(server.url, certs)
        partner = PeerLink(server.url, certs, "partner")
        assert partner.get("/health") == {"role": "bank", "status": "ok"}  # keep-alive open

        caplog.clear()
        renew_certificates(certs, days=365)
        after = _served_certificate(server.url, certs)  # a new connection, same process

        assert after["serialNumber"] != before["serialNumber"]
        assert after["notAfter"] != before["notAfter"]
        assert "expires in" not in caplog.text  # a year ahead: no warning
        # The open connection and new ones both keep working: no downtime for the partner.
        assert partner.get("/health")["status"] == "ok"
        assert PeerLink(server.url, certs, "partner").get("/health")["status"] == "ok"
    finally:
        server.close()


def test_requests_are_checked_against_the_callers_role(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    make_certificates(certs)
    endpoint = PartyEndpoint("partner", score=lambda job, body: {"job": job, **body})
    server = PartyServer(endpoint, certs).serve_in_background()
    try:
        bank = PeerLink(server.url, certs, "bank")
        own = PeerLink(server.url, certs, "partner")
        assert bank.post("/score/j1", b'{"key": "k"}') == {"job": "j1", "key": "k"}
        status, body = own.request("POST", "/score/j1", b"{}")
        assert status == 403 and b"partner may not score here" in body
        assert own.request("GET", "/jobs/nope")[0] == 404
        assert bank.request("POST", "/score/j1", b"[1]")[0] == 422  # not a JSON object
        assert bank.request("POST", "/jobs", b"{}")[0] == 404  # this party runs no jobs
    finally:
        server.close()


def test_a_long_running_server_warns_when_expiry_comes_near(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import finbridge.party._server as server_module

    certs = tmp_path / "certs"
    make_certificates(certs, days=40)
    monkeypatch.setattr(server_module, "EXPIRY_CHECK_SECONDS", 0.0)  # check on every handshake
    with caplog.at_level(logging.WARNING, logger="finbridge.party"):
        server = PartyServer(PartyEndpoint("bank"), certs, warn_days=30).serve_in_background()
        try:
            assert "expires in" not in caplog.text  # 40 days left: quiet at start
            server.tls.warn_days = 45  # as if the days went by while it served
            _served_certificate(server.url, certs)
            assert "bank certificate" in caplog.text and "expires in 40.0 days" in caplog.text
        finally:
            server.close()
