"""A party process: its data, its HTTPS endpoint, and joint jobs started from either side.

``POST /jobs`` from the party's own operator (client certificate of the same role) starts a
job: fresh job secrets are generated and forwarded to the other party over mutual TLS, and both
sides run their role in a background thread. Each side records progress locally and mirrors it
to the other (``POST /jobs/<id>/progress``), so ``GET /jobs/<id>`` shows both on either side.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from finbridge.core.errors import FinbridgeError, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.credit.party import PartyServer, PeerLink, https_channel
from finbridge.credit.psi import hash_points
from finbridge.credit.vfl.data import PartyData
from finbridge.credit.vfl.gbdt import BoostParams, Node
from finbridge.credit.vfl.job import JointConfig, JointResult, run_bank, run_partner
from finbridge.credit.vfl.lr import LRParams
from finbridge.credit.vfl.partner import PartnerSession


def config_from(spec: dict[str, Any]) -> JointConfig:
    models = tuple(spec.get("models", ["secureboost"]))
    if not set(models) <= {"secureboost", "lr"} or not models:
        raise ValidationError("models must be 'secureboost' and/or 'lr'", field="models")
    return JointConfig(
        models=models,
        key_bits=int(spec.get("key_bits", 2048)),
        boost=BoostParams(**spec.get("boost", {})),
        lr=LRParams(**spec.get("lr", {})),
        workers=int(spec.get("workers", 1)),
    )


def config_to(config: JointConfig) -> dict[str, Any]:
    return {
        "models": list(config.models),
        "key_bits": config.key_bits,
        "boost": asdict(config.boost),
        "lr": asdict(config.lr),
        "workers": config.workers,
    }


class PartyService:
    """One party: serves its endpoint, runs its side of joint jobs."""

    def __init__(
        self,
        role: str,
        data: PartyData,
        cert_dir: Path,
        peer_url: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        min_key_bits: int = 2048,
    ) -> None:
        self.role = role
        self.data = data
        self.min_key_bits = min_key_bits
        self.server = PartyServer(
            role, cert_dir, host=host, port=port, start_job=self._start,
            score=self._answer_score if role == "partner" else None,
        )  # fmt: skip
        self.peer = PeerLink(peer_url, cert_dir, role)
        self.results: dict[str, JointResult | dict[str, Any]] = {}
        self._hash_keys: dict[str, bytes] = {}
        self._sessions: dict[str, PartnerSession] = {}
        self._lookup: dict[str, dict[str, int]] = {}

    @property
    def url(self) -> str:
        return self.server.url

    def _start(self, spec: dict[str, Any]) -> str:
        config = config_from(spec)
        if spec.get("requested_by") == self.role:
            # Our operator asks: make the job's secrets and tell the other party first.
            job_id = new_id()
            secrets_ = {
                "job_key": base64.b64encode(secrets.token_bytes(32)).decode(),
                "hash_key": base64.b64encode(secrets.token_bytes(32)).decode(),
            }
            self.peer.post(
                "/jobs",
                json.dumps(
                    {**config_to(config), "job_id": job_id, "initiator": self.role, **secrets_}
                ).encode(),
            )
            spec = {**spec, **secrets_, "job_id": job_id, "initiator": self.role}
        elif "job_id" not in spec or "job_key" not in spec:
            raise ValidationError("a forwarded job needs its id and keys", field="job_id")
        job_id = str(spec["job_id"])
        self.server.update(
            job_id, state="running", stage="starting", progress=0.0,
            role=self.role, initiator=spec.get("initiator"),
        )  # fmt: skip
        thread = threading.Thread(target=self._run, args=(job_id, spec, config), daemon=True)
        thread.start()
        return job_id

    def _progress(self, job_id: str, stage: str, fraction: float) -> None:
        self.server.update(job_id, stage=stage, progress=round(fraction, 3))
        try:
            body = {"role": self.role, "stage": stage, "progress": round(fraction, 3)}
            self.peer.post(f"/jobs/{job_id}/progress", json.dumps(body).encode())
        except FinbridgeError:
            pass  # progress mirroring is best effort; the protocol itself will notice

    def _run(self, job_id: str, spec: dict[str, Any], config: JointConfig) -> None:
        key = base64.b64decode(spec["job_key"])
        hash_key = base64.b64decode(spec["hash_key"])
        self._hash_keys[job_id] = hash_key
        config = JointConfig(**{**config.__dict__, "min_key_bits": self.min_key_bits})
        channel = https_channel(self.server, self.peer, job_id, key, timeout=config.timeout)
        try:
            if self.role == "bank":
                result = run_bank(
                    channel, self.data, config, hash_key=hash_key,
                    progress=lambda s, f: self._progress(job_id, s, f),
                )  # fmt: skip
                self.results[job_id] = result
                self.server.update(
                    job_id, state="succeeded", metrics=result.metrics, timings=result.timings,
                    shared=result.shared,
                )  # fmt: skip
            else:
                kept: dict[str, Any] = {}
                info = run_partner(
                    channel, self.data, config, hash_key=hash_key,
                    progress=lambda s, f: self._progress(job_id, s, f), keep=kept,
                )  # fmt: skip
                self.results[job_id] = info
                self._sessions[job_id] = kept["session"]
                self.server.update(job_id, state="succeeded", summary=info)
        except FinbridgeError as exc:
            self.server.update(job_id, state="failed", error=f"{exc.code}: {exc}")
        except Exception as exc:  # report, never kill the server
            self.server.update(job_id, state="failed", error=f"internal: {exc!r}")
            traceback.print_exc()
        finally:
            self.server.mailbox.drop_job(job_id)

    # -- online joint scoring ------------------------------------------------------------------
    def _answer_score(self, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Partner: this customer's share for the bank (split directions and/or u_p)."""
        session = self._sessions.get(job_id)
        if session is None or session.binner is None:
            raise NotFound(f"no finished joint model for job {job_id}", field="job_id")
        lookup = self._lookup.get(job_id)
        if lookup is None:
            hashes = hash_points(self._hash_keys[job_id], self.data.ids, "phone")
            lookup = {h.hex(): i for i, h in enumerate(hashes)}
            self._lookup[job_id] = lookup
        row = lookup.get(str(body.get("key", "")))
        if row is None:
            return {"found": False}
        bins = session.binner.transform(self.data.features.iloc[[row]])
        left = [bool(bins[0, f] <= t) for f, t in session.records]
        out: dict[str, Any] = {"found": True, "left": left}
        if session.weights is not None:
            out["u"] = float((session.binner.one_hot(bins) @ session.weights)[0])
        return out

    def score_online(
        self, job_id: str, customer_key: str, features: dict[str, Any]
    ) -> dict[str, Any]:
        """Bank: score one applicant with the joint model; bank-only if the partner cannot help."""
        result = self.results.get(job_id)
        if not isinstance(result, JointResult):
            raise NotFound(f"no finished joint model for job {job_id}", field="job_id")
        binner = result.models["bank_binner"]
        row = binner.transform(pd.DataFrame([features]))
        kind = "secureboost" if "secureboost" in result.models else "lr"
        key = hash_points(self._hash_keys[job_id], [customer_key], "phone")[0].hex()
        note = None
        share: dict[str, Any] = {"found": False}
        try:
            share = self.peer.post(f"/score/{job_id}", json.dumps({"key": key}).encode())
        except FinbridgeError as exc:
            note = f"partner unreachable ({exc}); bank-only model used"
        if share.get("found"):
            if kind == "secureboost":
                router = _AnswerRouter(share["left"])
                p = result.models[kind].predict_proba(row, binner.n_bins, router)[0]
            else:
                raw = result.models[kind].raw(binner.one_hot(row))[0] + float(share["u"])
                p = 1.0 / (1.0 + np.exp(-raw))
            return {"probability_bad": float(p), "mode": "joint", "model": kind, "note": None}
        note = note or "customer unknown to the partner; bank-only model used"
        bank_only = result.models[f"{kind}_bank_only"]
        if kind == "secureboost":
            p = bank_only.predict_proba(row, binner.n_bins)[0]
        else:
            p = 1.0 / (1.0 + np.exp(-bank_only.raw(binner.one_hot(row))[0]))
        return {"probability_bad": float(p), "mode": "bank_only", "model": kind, "note": note}

    def serve_in_background(self) -> PartyService:
        self.server.serve_in_background()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def close(self) -> None:
        self.server.close()


class _AnswerRouter:
    """Split directions the partner returned for one applicant, by split record."""

    def __init__(self, left: list[bool]) -> None:
        self._left = left

    def directions(self, rows: np.ndarray, node: Node) -> np.ndarray:
        if not 0 <= node.record < len(self._left):
            raise ValidationError("the partner's answer lacks a split record", field="record")
        return np.full(len(rows), self._left[node.record], dtype=bool)
