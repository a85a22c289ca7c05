from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from tests.credit.joint_support import SPEC, serve_pair, wait_for_job

from finbridge.core import Principal
from finbridge.credit import (
    TAIWAN_BANK_COLUMNS,
    TAIWAN_PARTNER_COLUMNS,
    TAIWAN_TARGET,
    CreditService,
    PartyUnreachable,
    PeerLink,
    make_certificates,
    taiwan,
)
from finbridge.credit.registry import ModelRegistry
from finbridge.credit.vfl import vertical_split
from finbridge.credit.vfl.online import https_partner
from finbridge.credit.vfl.service import PartyService
from finbridge.party import PartyServer

ADMIN = Principal.system("party-test")


class _EveryoneConsented:
    def require_consent(self, customer_id: str, purpose: str, data: str | None = None) -> None:
        return None


def test_job_started_by_the_partner_runs_over_mutual_tls(tmp_path: Path, clock, sqlite_engine):
    certs = tmp_path / "certs"
    make_certificates(certs)
    bank_data, partner_data = vertical_split(
        taiwan().head(800), id_column="ID", target=TAIWAN_TARGET,
        bank_columns=TAIWAN_BANK_COLUMNS, partner_columns=TAIWAN_PARTNER_COLUMNS,
    )  # fmt: skip
    registry = ModelRegistry(sqlite_engine, clock)
    bank = PartyService("bank", bank_data, certs, "https://127.0.0.1:1", min_key_bits=512,
                        registry=registry, actor=ADMIN)  # fmt: skip
    partner = PartyService("partner", partner_data, certs, "https://127.0.0.1:1",
                           min_key_bits=512, data_dir=tmp_path / "partner")  # fmt: skip
    bank_server, partner_server = serve_pair(bank, partner, certs)
    try:
        operator = PeerLink(partner_server.url, certs, "partner")  # the partner's own operator
        job_id = operator.post("/jobs", json.dumps(SPEC).encode())["job_id"]
        bank_view = PeerLink(bank_server.url, certs, "bank")
        done = wait_for_job(bank_view, job_id)
        assert done["state"] == "succeeded", done
        assert done["metrics"]["secureboost"]["coverage"] > 0.5
        assert done["initiator"] == "partner"
        partner_done = wait_for_job(operator, job_id)
        assert partner_done["state"] == "succeeded"
        # The partner sees the bank's progress, not the bank's results.
        peer_view = PeerLink(bank_server.url, certs, "partner").get(f"/jobs/{job_id}")
        assert peer_view["state"] == "succeeded" and "metrics" not in peer_view
        assert partner_done["peer"]["role"] == "bank"
        # Online joint scoring over mutual TLS: a shared customer gets the joint model, a
        # stranger the bank-only model, and with the partner gone the bank still answers.
        credit = CreditService(
            registry, _EveryoneConsented(), partner=https_partner(partner_server.url, certs)
        )
        shared = next(k for k in bank_data.ids if k in set(partner_data.ids))
        features = bank_data.features.iloc[bank_data.ids.index(shared)].to_dict()

        def score(key: str):  # type: ignore[no-untyped-def]
            return credit.score_joint(
                ADMIN, "joint", customer_id="cust-1", join_key=key, applicant=features,
                version=1,
            )  # fmt: skip

        joint = score(shared)
        assert joint.decision.mode == "joint" and 0 < joint.decision.probability_bad < 1
        stranger = next(k for k in bank_data.ids if k not in set(partner_data.ids))
        alone = score(stranger)
        assert alone.bank_only_fallback and "unknown to the partner" in (alone.note or "")
        partner_server.close()
        down = score(shared)
        assert down.decision.mode == "bank_only" and "partner unreachable" in (down.note or "")
    finally:
        bank_server.close()
        with contextlib.suppress(Exception):
            partner_server.close()


def test_starting_a_job_with_the_partner_down_is_a_clear_error(tmp_path: Path):
    certs = tmp_path / "certs"
    make_certificates(certs)
    bank_data, _ = vertical_split(
        taiwan().head(200), id_column="ID", target=TAIWAN_TARGET,
        bank_columns=TAIWAN_BANK_COLUMNS, partner_columns=TAIWAN_PARTNER_COLUMNS,
    )  # fmt: skip
    bank = PartyService("bank", bank_data, certs, "https://127.0.0.1:9", min_key_bits=512)
    server = PartyServer(bank.endpoint, certs).serve_in_background()
    try:
        with pytest.raises(PartyUnreachable, match=r"answered 503.*unreachable"):
            PeerLink(server.url, certs, "bank").post("/jobs", json.dumps(SPEC).encode())
    finally:
        server.close()
