from __future__ import annotations

import threading
from pathlib import Path

import pytest

from finbridge.core.errors import ValidationError
from finbridge.credit import PartyEndpoint, PeerLink, https_channel, make_certificates
from finbridge.credit.psi import NoOverlap, normalise, require_overlap, run_psi
from finbridge.credit.transport import PartyUnreachable, TamperedMessage, channel_pair
from finbridge.party import PartyServer

KEY = b"hash-key-for-this-job-0123456789"


def _run(bank_ch, partner_ch, bank_ids, partner_ids, **kw):
    out: dict = {}

    def partner() -> None:
        try:
            out["partner"] = run_psi(partner_ch, "sender", partner_ids, hash_key=KEY, **kw)
        except Exception as exc:
            out["partner_error"] = exc

    t = threading.Thread(target=partner)
    t.start()
    try:
        bank = run_psi(bank_ch, "receiver", bank_ids, hash_key=KEY, **kw)
    finally:
        t.join()
    return bank, out


def test_intersection_only_to_receiver_and_only_blinded_points_on_wire():
    wire: list[tuple[str, str, bytes]] = []
    bank_ch, partner_ch = channel_pair(tap=lambda s, t, p: wire.append((s, t, p)))
    bank_ids = [f"138{i:08d}" for i in range(300)]
    partner_ids = [f"+86 138 {i:08d}" for i in range(150, 450)]
    bank, out = _run(bank_ch, partner_ch, bank_ids, partner_ids, kind="phone", batch=64)
    assert sorted(bank.shared) == sorted(bank_ids[150:])
    assert out["partner"].shared is None and out["partner"].peer_size == 300
    blob = b"".join(p for _, _, p in wire)
    for raw in (*bank_ids, *partner_ids, "8613800000200"):
        assert raw.encode() not in blob
    sizes = {t: len(p) for _, t, p in wire if t != "psi.hello"}
    assert sizes["psi.own"] % 32 == 0 and sizes["psi.double"] % 16 == 0


def test_normalisation():
    assert normalise("+86 138-0013-8000", "phone") == normalise("13800138000", "phone")
    assert normalise(" 11010519491231002x ", "id_number") == "11010519491231002X"
    with pytest.raises(ValidationError, match="not a phone number"):
        normalise("12", "phone")


def test_no_overlap_is_a_clear_error():
    bank_ch, partner_ch = channel_pair()
    bank, _ = _run(bank_ch, partner_ch, ["a", "b"], ["c", "d"])
    with pytest.raises(NoOverlap, match="share 0 customers"):
        require_overlap(bank)


def test_tampered_message_refused():
    def flip(sender: str, topic: str, frame: bytes) -> bytes:
        if sender == "partner" and topic == "psi.double":
            return frame[:-1] + bytes([frame[-1] ^ 1])
        return frame

    bank_ch, partner_ch = channel_pair(intercept=flip)
    with pytest.raises(TamperedMessage, match="failed its authentication check"):
        _run(bank_ch, partner_ch, ["a", "b", "c"], ["b", "c"])


def test_partner_disconnecting_mid_job_fails_cleanly():
    def vanish(sender: str, topic: str, frame: bytes) -> bytes | None:
        return None if sender == "partner" and topic == "psi.double" else frame

    bank_ch, partner_ch = channel_pair(intercept=vanish, timeout=1.0)
    with pytest.raises(PartyUnreachable, match=r"no .psi\.double. message"):
        _run(bank_ch, partner_ch, ["a", "b", "c"], ["b", "c"])


def test_psi_over_https_with_mutual_tls(tmp_path: Path, clock):
    make_certificates(tmp_path / "certs")
    other = tmp_path / "other"
    make_certificates(other)  # a different CA: must not be trusted
    bank_end, partner_end = PartyEndpoint("bank"), PartyEndpoint("partner")
    bank = PartyServer(bank_end, tmp_path / "certs").serve_in_background()
    partner = PartyServer(partner_end, tmp_path / "certs").serve_in_background()
    try:
        to_partner = PeerLink(partner.url, tmp_path / "certs", "bank")
        to_bank = PeerLink(bank.url, tmp_path / "certs", "partner")
        res, _out = _run(
            https_channel(bank_end.mailbox, to_partner, "j", b"k" * 32),
            https_channel(partner_end.mailbox, to_bank, "j", b"k" * 32),
            [str(i) for i in range(100)],
            [str(i) for i in range(50, 120)],
            batch=16,
        )
        assert sorted(res.shared, key=int) == [str(i) for i in range(50, 100)]
        # The bank's own certificate cannot post into the bank's mailbox (wrong role).
        status, body = PeerLink(bank.url, tmp_path / "certs", "bank").request(
            "POST", "/mailbox/j/x", b"1"
        )
        assert status == 403 and b"bank may not post here" in body
        with pytest.raises(PartyUnreachable, match="unreachable"):
            PeerLink(bank.url, other, "partner").get("/health")
    finally:
        bank.close()
        partner.close()
