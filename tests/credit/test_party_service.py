from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from tests.credit.joint_support import SPEC, wait_for_job

from finbridge.credit.datasets import (
    TAIWAN_BANK_COLUMNS,
    TAIWAN_PARTNER_COLUMNS,
    TAIWAN_TARGET,
    taiwan,
)
from finbridge.credit.party import PeerLink
from finbridge.credit.pki import make_certificates
from finbridge.credit.transport import PartyUnreachable
from finbridge.credit.vfl import vertical_split
from finbridge.credit.vfl.service import PartyService


def test_job_started_by_the_partner_runs_over_mutual_tls(tmp_path: Path, clock):
    certs = tmp_path / "certs"
    make_certificates(certs)
    bank_data, partner_data = vertical_split(
        taiwan().head(800), id_column="ID", target=TAIWAN_TARGET,
        bank_columns=TAIWAN_BANK_COLUMNS, partner_columns=TAIWAN_PARTNER_COLUMNS,
    )  # fmt: skip
    # Ports are bound before the peers know each other's URL: start bank with a placeholder.
    bank = PartyService("bank", bank_data, certs, "https://127.0.0.1:1", min_key_bits=512)
    partner = PartyService("partner", partner_data, certs, bank.url, min_key_bits=512)
    bank.peer = PeerLink(partner.url, certs, "bank")
    bank.serve_in_background()
    partner.serve_in_background()
    try:
        operator = PeerLink(partner.url, certs, "partner")  # the partner's own operator
        job_id = operator.post("/jobs", json.dumps(SPEC).encode())["job_id"]
        bank_view = PeerLink(bank.url, certs, "bank")
        done = wait_for_job(bank_view, job_id)
        assert done["state"] == "succeeded", done
        assert done["metrics"]["secureboost"]["coverage"] > 0.5
        assert done["initiator"] == "partner"
        partner_done = wait_for_job(operator, job_id)
        assert partner_done["state"] == "succeeded"
        # The partner sees the bank's progress, not the bank's results.
        peer_view = PeerLink(bank.url, certs, "partner").get(f"/jobs/{job_id}")
        assert peer_view["state"] == "succeeded" and "metrics" not in peer_view
        assert partner_done["peer"]["role"] == "bank"
        # Online joint scoring: a shared customer gets the joint model, a stranger the bank-only
        # model, and with the partner gone the bank still answers and says why.
        shared = next(k for k in bank_data.ids if k in set(partner_data.ids))
        features = bank_data.features.iloc[bank_data.ids.index(shared)].to_dict()
        joint = bank.score_online(job_id, shared, features)
        assert joint["mode"] == "joint" and 0 < joint["probability_bad"] < 1
        stranger = next(k for k in bank_data.ids if k not in set(partner_data.ids))
        alone = bank.score_online(job_id, stranger, features)
        assert alone["mode"] == "bank_only" and "unknown to the partner" in alone["note"]
        partner.close()
        down = bank.score_online(job_id, shared, features)
        assert down["mode"] == "bank_only" and "partner unreachable" in down["note"]
    finally:
        bank.close()
        with contextlib.suppress(Exception):
            partner.close()


def test_starting_a_job_with_the_partner_down_is_a_clear_error(tmp_path: Path, clock):
    certs = tmp_path / "certs"
    make_certificates(certs)
    bank_data, _ = vertical_split(
        taiwan().head(200), id_column="ID", target=TAIWAN_TARGET,
        bank_columns=TAIWAN_BANK_COLUMNS, partner_columns=TAIWAN_PARTNER_COLUMNS,
    )  # fmt: skip
    bank = PartyService("bank", bank_data, certs, "https://127.0.0.1:9", min_key_bits=512)
    bank.serve_in_background()
    try:
        with pytest.raises(PartyUnreachable, match=r"answered 503.*unreachable"):
            PeerLink(bank.url, certs, "bank").post("/jobs", json.dumps(SPEC).encode())
    finally:
        bank.close()
