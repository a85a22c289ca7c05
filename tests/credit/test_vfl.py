from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from finbridge.credit.datasets import (
    TAIWAN_BANK_COLUMNS,
    TAIWAN_PARTNER_COLUMNS,
    TAIWAN_TARGET,
    taiwan,
)
from finbridge.credit.psi import NoOverlap
from finbridge.credit.transport import PartyUnreachable, TamperedMessage, channel_pair
from finbridge.credit.vfl import (
    BoostParams,
    JointConfig,
    LRParams,
    PartnerRefused,
    PartyData,
    run_bank,
    run_partner,
    score_joint,
    vertical_split,
)
from finbridge.credit.vfl.partner import JobAborted
from finbridge.credit.vfl.secureboost import RemoteRouter
from finbridge.credit.vfl.twin import centralised_twins
from finbridge.credit.vfl.wire import decode as wire_decode

KEY = b"job-hash-key-0123456789abcdef..."
# Small keys here: these tests are about protocol logic; the 2048-bit check is its own test.
CFG = JointConfig(
    models=("secureboost", "lr"),
    key_bits=512,
    min_key_bits=512,
    min_overlap=20,
    boost=BoostParams(n_trees=3, max_depth=2),
    lr=LRParams(n_iter=4, batch_size=256),
    psi_batch=256,
    timeout=20,
)


@pytest.fixture(scope="module")
def parties() -> tuple[PartyData, PartyData]:
    return vertical_split(
        taiwan().head(1500),
        id_column="ID",
        target=TAIWAN_TARGET,
        bank_columns=TAIWAN_BANK_COLUMNS,
        partner_columns=TAIWAN_PARTNER_COLUMNS,
        overlap=0.7,
    )


def _job(bank, partner, cfg=CFG, out: dict | None = None, **pair_kw) -> tuple[Any, dict]:
    bank_ch, partner_ch = channel_pair(timeout=cfg.timeout, **pair_kw)
    out = {} if out is None else out

    def run() -> None:
        try:
            out["partner"] = run_partner(partner_ch, partner, cfg, hash_key=KEY)
        except Exception as exc:
            out["partner_error"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        return run_bank(bank_ch, bank, cfg, hash_key=KEY), out
    finally:
        t.join(timeout=5)


@pytest.fixture(scope="module")
def traffic(parties):
    wire: list[tuple[str, str, bytes]] = []
    result, out = _job(*parties, tap=lambda s, t, p: wire.append((s, t, p)))
    return result, out, wire


def test_joint_models_are_lossless_against_centralised_twins(traffic, parties):
    result, out, _ = traffic
    bank, partner = parties
    assert 0.65 < result.shared / len(bank.ids) < 0.9
    twins = centralised_twins(result, bank, partner, CFG)
    for model in ("secureboost", "lr"):
        assert abs(twins[model]["auc_gap"]) <= 0.005, twins[model]
        m = result.metrics[model]
        assert 0.7 < m["coverage"] < 0.95
        assert m["joint_on_shared"]["auc"] > 0.6
    assert out["partner"]["split_records"] >= 1


def _numbers(value: Any) -> list[float]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)]
    return []


def test_no_raw_feature_label_or_identifier_crosses_the_wire(traffic, parties):
    result, _, wire = traffic
    bank, partner = parties
    blob = b"".join(p for _, _, p in wire)
    for key in (*bank.ids, *partner.ids):
        assert key.encode() not in blob
    raw_values = {
        float(v)
        for frame in (partner.features, bank.features)
        for v in frame.to_numpy().ravel()
        if abs(v) >= 1000
    }
    # No raw value as a float64 anywhere in the traffic (arrays are sent as raw bytes).
    for v in raw_values:
        assert np.float64(v).tobytes() not in blob
    # Every protocol message parses to a JSON header + typed arrays + ciphertext blob; no
    # header carries a raw value, and arrays are only positions, partial scores or directions.
    allowed = {"bank": {"rows", "n0", "n1", "n2", "n3"}, "partner": {"u", "left"}}
    for sender, topic, payload in wire:
        if not topic.startswith("vfl."):
            continue
        head, arrays, ct = wire_decode(payload)
        head = {k: v for k, v in head.items() if k not in ("n", "hs")}  # the public key
        assert not raw_values & set(_numbers(head)), (sender, head)
        assert set(arrays) <= allowed[sender], (sender, set(arrays))
        for name, arr in arrays.items():
            assert arr.dtype.kind in ("u", "b") or name == "u"
        if head.get("op") == "lr.unmask":
            assert len(ct) % 14 == 0  # masked sums (each hidden by a fresh 100-bit mask)
        else:
            assert len(ct) % 128 == 0  # whole ciphertexts only (512-bit key: 128-byte blocks)
    # The label vector of the shared training customers, in any dtype.
    idx = {k: i for i, k in enumerate(bank.ids)}
    y = bank.labels[[idx[k] for k in result.keys["joint_train"]]]
    for dtype in (np.uint8, np.bool_, np.int64, np.float64):
        assert y[:64].astype(dtype).tobytes() not in blob
    topics = {t for _, t, _ in wire}
    assert topics <= {"psi.hello", "psi.own", "psi.double", "vfl.cmd", "vfl.reply"}


def test_partner_disconnecting_mid_training_fails_cleanly(parties):
    seen = {"n": 0}

    def vanish(sender: str, topic: str, frame: bytes) -> bytes | None:
        if sender == "partner" and topic == "vfl.reply":
            seen["n"] += 1
            if seen["n"] > 6:
                return None
        return frame

    cfg = JointConfig(**{**CFG.__dict__, "timeout": 2.0})
    with pytest.raises(PartyUnreachable, match=r"no .vfl\.reply. message"):
        _job(*parties, cfg=cfg, intercept=vanish)


def test_tampered_reply_refused(parties):
    def flip(sender: str, topic: str, frame: bytes) -> bytes:
        if sender == "partner" and topic == "vfl.reply" and len(frame) > 2000:
            return frame[:-3] + bytes([frame[-3] ^ 0x10]) + frame[-2:]
        return frame

    out: dict = {}
    with pytest.raises(TamperedMessage, match="failed its authentication check"):
        _job(*parties, intercept=flip, out=out)
    assert isinstance(out["partner_error"], JobAborted)
    assert "the bank aborted the job" in str(out["partner_error"])


def test_key_smaller_than_partner_policy_is_refused(parties):
    cfg = JointConfig(**{**CFG.__dict__, "min_key_bits": 1024})
    with pytest.raises(PartnerRefused, match="512 bits is below the required 1024"):
        _job(*parties, cfg=cfg)


def test_no_overlap(parties):
    bank, partner = parties
    stranger = PartyData([f"15{k[2:]}" for k in partner.ids], partner.features)
    with pytest.raises(NoOverlap, match="share 0 customers"):
        _job(bank, stranger)


def test_joint_scoring_falls_back_to_bank_only(traffic):
    result, _, _ = traffic
    booster = result.models["secureboost"]
    bank_only = result.models["secureboost_bank_only"]
    binner = result.models["bank_binner"]
    row = np.zeros(len(binner.n_bins), dtype=np.int16)
    dead, _ = channel_pair(timeout=0.2)
    answer = score_joint(booster, row, binner.n_bins, bank_only, RemoteRouter(dead, "eval"))
    if booster.partner_records:
        assert answer["mode"] == "bank_only" and "partner unreachable" in answer["note"]
    unknown = score_joint(booster, row, binner.n_bins, bank_only, None)
    assert unknown["mode"] == "bank_only" and "unknown to the partner" in unknown["note"]
    assert 0 < unknown["probability_bad"] < 1
