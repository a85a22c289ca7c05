"""Shared by the joint-training tests: a tiny job spec and waiting for a job to finish."""

from __future__ import annotations

import time

from finbridge.credit.party import PeerLink

# Small enough to train in a couple of seconds with real Paillier keys.
SPEC = {"models": ["secureboost"], "key_bits": 512, "boost": {"n_trees": 2, "max_depth": 2}}


def wait_for_job(link: PeerLink, job_id: str, seconds: float = 60) -> dict:  # type: ignore[type-arg]
    """Poll the job until it succeeded or failed; fail the test if it never ends."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = link.get(f"/jobs/{job_id}")
        if status.get("state") in ("succeeded", "failed"):
            return status  # type: ignore[no-any-return]
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")
