"""Shared by the joint-training tests: a tiny job spec, serving two parties, waiting for jobs."""

from __future__ import annotations

import time
from pathlib import Path

from finbridge.credit import PeerLink
from finbridge.credit.vfl.service import PartyService
from finbridge.party import PartyServer

# Small enough to train in a couple of seconds with real Paillier keys.
SPEC = {"models": ["secureboost"], "key_bits": 512, "boost": {"n_trees": 2, "max_depth": 2}}


def serve_pair(
    bank: PartyService, partner: PartyService, certs: Path
) -> tuple[PartyServer, PartyServer]:
    """Both parties' servers, running, each party's link pointed at the other's URL."""
    bank_server = PartyServer(bank.endpoint, certs)
    partner_server = PartyServer(partner.endpoint, certs)
    bank.peer = PeerLink(partner_server.url, certs, "bank")
    partner.peer = PeerLink(bank_server.url, certs, "partner")
    return bank_server.serve_in_background(), partner_server.serve_in_background()


def wait_for_job(link: PeerLink, job_id: str, seconds: float = 60) -> dict:  # type: ignore[type-arg]
    """Poll the job until it succeeded or failed; fail the test if it never ends."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = link.get(f"/jobs/{job_id}")
        if status.get("state") in ("succeeded", "failed"):
            return status  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")
