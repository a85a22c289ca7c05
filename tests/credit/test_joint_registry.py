"""Joint models survive restarts: the bank's half in the registry, the partner's on its disk;
joint scoring over /v1/credit/joint/score with consent, reasons, version and the fallback flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.credit.joint_support import SPEC, serve_pair, wait_for_job

from finbridge.core import Principal, Role, Settings
from finbridge.core.errors import ValidationError
from finbridge.credit import CreditService, PeerLink
from finbridge.credit.datasets import (
    TAIWAN_BANK_COLUMNS,
    TAIWAN_PARTNER_COLUMNS,
    TAIWAN_TARGET,
    taiwan,
)
from finbridge.credit.pki import make_certificates
from finbridge.credit.registry import ModelRegistry
from finbridge.credit.transport import PartyUnreachable
from finbridge.credit.vfl import PartyData, vertical_split
from finbridge.credit.vfl.online import https_partner, load_partner_half
from finbridge.credit.vfl.service import PartyService
from finbridge.identity.apikeys import ApiKeyService
from finbridge.party import PartyServer
from finbridge.platform import Platform
from finbridge.site import create_app

ADMIN = Principal.system("joint-test")


def _pair(tmp_path: Path, bank_data, partner_data, registry, partner_dir: Path):  # type: ignore[no-untyped-def]
    certs = tmp_path / "certs"
    make_certificates(certs)
    bank = PartyService("bank", bank_data, certs, "https://127.0.0.1:1", min_key_bits=512,
                        registry=registry, actor=ADMIN)  # fmt: skip
    partner = PartyService("partner", partner_data, certs, "https://127.0.0.1:1",
                           min_key_bits=512, data_dir=partner_dir)  # fmt: skip
    bank_server, partner_server = serve_pair(bank, partner, certs)
    return certs, bank_server, partner_server


def _run_job(certs: Path, bank: PartyServer) -> dict:
    operator = PeerLink(bank.url, certs, "bank")
    job_id = operator.post("/jobs", json.dumps(SPEC).encode())["job_id"]
    return wait_for_job(operator, job_id)


def _split(rows: int = 800):  # type: ignore[no-untyped-def]
    return vertical_split(
        taiwan().head(rows), id_column="ID", target=TAIWAN_TARGET,
        bank_columns=TAIWAN_BANK_COLUMNS, partner_columns=TAIWAN_PARTNER_COLUMNS,
    )  # fmt: skip


def test_joint_model_registered_survives_restart_and_scores_over_the_api(
    tmp_path: Path, clock, settings: Settings, sqlite_engine
):
    platform = Platform(settings=settings, engine=sqlite_engine, clock=clock)
    registry = ModelRegistry(sqlite_engine, clock)
    bank_data, partner_data = _split()
    partner_dir = tmp_path / "partner"
    certs, bank, partner = _pair(tmp_path, bank_data, partner_data, registry, partner_dir)
    try:
        done = _run_job(certs, bank)
        assert done["state"] == "succeeded", done
        assert done["registered"] == {"model_name": "joint", "version": 1}
        job_id = done["job_id"]
    finally:
        bank.close()
        partner.close()

    # The bank's half: a registry version with everything needed, nothing of the partner's.
    (v,) = registry.list_versions(ADMIN, "joint")
    assert v.kind == "joint_secureboost" and v.status == "candidate"
    assert v.features == list(TAIWAN_BANK_COLUMNS) and v.trained_by == "joint-test"
    assert v.params["job_id"] == job_id and v.params["partner_model_ref"] == f"partner:{job_id}"
    assert v.params["leakage_profile"].startswith("docs/credit_leakage.md#step-3a")
    assert 0.5 < v.metrics["auc"] < 1 and v.metrics["joint"]["secureboost"]["coverage"] > 0.5
    assert len(v.data_fingerprint) == 64 and 0 < v.n_train < len(bank_data.ids)
    from sqlalchemy import select

    from finbridge.credit.tables import ModelVersionRow
    from finbridge.store.engine import unit_of_work

    with unit_of_work(sqlite_engine, write=False) as s:
        artifact = bytes(s.scalar(select(ModelVersionRow.artifact)))
    for col in TAIWAN_PARTNER_COLUMNS:
        assert col.encode() not in artifact  # the partner's columns never reach the bank
    # The partner's half: on its disk under the same job id (its own columns, its splits).
    half = load_partner_half(partner_dir, job_id)
    assert half.binner.columns_ == list(TAIWAN_PARTNER_COLUMNS) and half.records
    registry.promote(ADMIN, "joint", 1)

    # "Restart": fresh partner process state from its data dir, scoring through the API.
    certs2 = tmp_path / "certs"
    partner2 = PartyService(
        "partner", partner_data, certs2, "https://127.0.0.1:1", min_key_bits=512,
        data_dir=partner_dir,
    )  # fmt: skip
    platform.credit.use_partner(partner2.share)  # in-process transport
    secret = settings.secret_key.get_secret_value()
    key = ApiKeyService(sqlite_engine, clock, secret).issue("ops", [Role.ADMIN]).plaintext
    client = TestClient(create_app(platform=platform))
    client.headers["Authorization"] = f"Bearer {key}"
    # A shared customer with a late repayment record, so some bank features cost points.
    known = set(partner_data.ids)
    pay_0 = dict(zip(bank_data.ids, bank_data.features["PAY_0"].astype(int), strict=True))
    shared = max((k for k in bank_data.ids if k in known), key=lambda k: pay_0[k])
    row = bank_data.features.iloc[bank_data.ids.index(shared)]
    applicant = {k: (x.item() if hasattr(x, "item") else x) for k, x in row.items()}
    body = {"join_key": shared, "customer_id": "cust-7", "applicant": applicant}
    refused = client.post("/v1/credit/joint/score", json=body)
    assert refused.status_code == 403 and refused.json()["code"] == "consent_required"
    platform.identity.consents.grant(ADMIN, "cust-7", "credit_scoring", ["credit"])
    ok = client.post("/v1/credit/joint/score", json=body)
    assert ok.status_code == 200, ok.text
    joint = ok.json()
    assert joint["mode"] == "joint" and joint["version"] == 1 and joint["job_id"] == job_id
    assert joint["partner_reachable"] and not joint["bank_only_fallback"] and joint["note"] is None
    assert joint["band"] in "ABCDE" and joint["reasons"]
    assert {r["feature"] for r in joint["reasons"]} <= set(TAIWAN_BANK_COLUMNS)
    stranger = next(k for k in bank_data.ids if k not in set(partner_data.ids))
    alone = client.post("/v1/credit/joint/score", json=dict(body, join_key=stranger)).json()
    assert alone["bank_only_fallback"] and "unknown to the partner" in alone["note"]

    def unreachable(_job: str, _key: str) -> dict:
        raise PartyUnreachable("https://127.0.0.1:9 unreachable: connection refused")

    platform.credit.use_partner(unreachable)
    down = client.post("/v1/credit/joint/score", json=body).json()
    assert down["mode"] == "bank_only" and down["bank_only_fallback"]
    assert not down["partner_reachable"] and "partner unreachable" in down["note"]
    assert down["version"] == 1 and down["reasons"]
    recorded = client.get("/v1/credit/scores", params={"customer_id": "cust-7"}).json()
    assert [r["mode"] for r in recorded] == ["bank_only", "bank_only", "joint"]
    assert {r["version"] for r in recorded} == {1}
    # Bad input: the single-model route refuses a joint model; missing bank features.
    single = client.post(
        "/v1/credit/models/joint/score", json={"applicant": applicant, "customer_id": "cust-7"}
    )
    assert single.status_code == 422 and "joint model" in single.json()["detail"]
    missing = client.post("/v1/credit/joint/score", json=dict(body, applicant={"AGE": 30}))
    assert missing.status_code == 422 and "missing feature columns" in missing.json()["detail"]
    # A restarted bank service finds its half in the registry (partner gone: bank-only, said).
    restarted = CreditService(
        ModelRegistry(sqlite_engine, clock), platform.identity.consents,
        partner=https_partner("https://127.0.0.1:9", certs2),
    )  # fmt: skip
    again = restarted.score_joint(
        ADMIN, "joint", customer_id="cust-7", join_key=shared, applicant=applicant
    )
    assert again.decision.mode == "bank_only" and "partner unreachable" in (again.note or "")
    assert again.job_id == job_id


def test_failed_jobs_register_nothing_on_either_side(
    tmp_path: Path, clock, settings: Settings, sqlite_engine
):
    registry = ModelRegistry(sqlite_engine, clock)
    bank_data, partner_data = _split(400)
    # (1) No overlap: fails at PSI.
    strangers = PartyData([f"1{k[1:]}9" for k in partner_data.ids], partner_data.features)
    certs, bank, partner = _pair(tmp_path, bank_data, strangers, registry, tmp_path / "p")
    try:
        failed = _run_job(certs, bank)
        assert failed["state"] == "failed" and "overlap" in failed["error"]
    finally:
        bank.close()
        partner.close()
    assert registry.list_versions(ADMIN) == []
    assert not (tmp_path / "p" / "credit-joint").exists()
    # (2) The partner cannot keep its half (its data dir is a file): the bank registers nothing.
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    certs, bank, partner = _pair(tmp_path, bank_data, partner_data, registry, blocked)
    try:
        failed = _run_job(certs, bank)
        assert failed["state"] == "failed", failed
        assert "could not keep the partner's model" in failed["error"]
    finally:
        bank.close()
        partner.close()
    assert registry.list_versions(ADMIN) == []
    with pytest.raises(ValidationError, match="malformed job id"):
        load_partner_half(tmp_path, "../etc/passwd")
