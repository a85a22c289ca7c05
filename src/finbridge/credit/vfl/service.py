"""A party process: its data, its endpoint, and joint jobs started from either side.

The endpoint (:class:`~finbridge.credit.party.PartyEndpoint`) is served over HTTPS with mutual
TLS by the party server (``finbridge.party``). ``POST /jobs`` from the party's own operator
(client certificate of the same role) starts a job: fresh job secrets are generated and
forwarded to the other party over mutual TLS, and both sides run their role in a background
thread. Each side records progress locally and mirrors it to the other
(``POST /jobs/<id>/progress``), so ``GET /jobs/<id>`` shows both on either side.

A finished job leaves each half where it survives a restart: the bank registers its half in the
model registry (when the service is given one), the partner writes its half under its
``data_dir``; both are keyed by the job id.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import traceback
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from finbridge.core.errors import FinbridgeError, NotFound, ValidationError
from finbridge.core.ids import new_id
from finbridge.core.principal import Principal
from finbridge.credit.party import PartyEndpoint
from finbridge.credit.psi import hash_points
from finbridge.credit.transport import PeerLink, https_channel
from finbridge.credit.vfl.data import PartyData
from finbridge.credit.vfl.gbdt import BoostParams
from finbridge.credit.vfl.job import JointConfig, JointResult, run_bank, run_partner
from finbridge.credit.vfl.lr import LRParams
from finbridge.credit.vfl.online import (
    PartnerHalf,
    load_partner_half,
    register_joint,
    save_partner_half,
)
from finbridge.credit.vfl.partner import PartnerSession

if TYPE_CHECKING:
    from finbridge.credit.registry import ModelRegistry


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
    """One party: answers its endpoint's requests, runs its side of joint jobs."""

    def __init__(
        self,
        role: str,
        data: PartyData,
        cert_dir: Path,
        peer_url: str,
        *,
        min_key_bits: int = 2048,
        data_dir: Path | None = None,
        registry: ModelRegistry | None = None,
        actor: Principal | None = None,
        model_name: str = "joint",
    ) -> None:
        self.role = role
        self.data = data
        self.min_key_bits = min_key_bits
        self.data_dir = data_dir
        self.registry = registry
        self.actor = actor or Principal.system(f"party-{role}")
        self.model_name = model_name
        self.endpoint = PartyEndpoint(
            role, start_job=self._start, score=self._answer_score if role == "partner" else None
        )
        self.peer = PeerLink(peer_url, cert_dir, role)
        self.results: dict[str, JointResult | dict[str, Any]] = {}
        self._halves: dict[str, PartnerHalf] = {}
        self._lookup: dict[str, dict[str, int]] = {}

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
        self.endpoint.update(
            job_id, state="running", stage="starting", progress=0.0,
            role=self.role, initiator=spec.get("initiator"),
        )  # fmt: skip
        thread = threading.Thread(target=self._run, args=(job_id, spec, config), daemon=True)
        thread.start()
        return job_id

    def _progress(self, job_id: str, stage: str, fraction: float) -> None:
        self.endpoint.update(job_id, stage=stage, progress=round(fraction, 3))
        try:
            body = {"role": self.role, "stage": stage, "progress": round(fraction, 3)}
            self.peer.post(f"/jobs/{job_id}/progress", json.dumps(body).encode())
        except FinbridgeError:
            pass  # progress mirroring is best effort; the protocol itself will notice

    def _run(self, job_id: str, spec: dict[str, Any], config: JointConfig) -> None:
        key = base64.b64decode(spec["job_key"])
        hash_key = base64.b64decode(spec["hash_key"])
        config = JointConfig(**{**config.__dict__, "min_key_bits": self.min_key_bits})
        channel = https_channel(
            self.endpoint.mailbox, self.peer, job_id, key, timeout=config.timeout
        )
        try:
            if self.role == "bank":
                result = run_bank(
                    channel, self.data, config, hash_key=hash_key,
                    progress=lambda s, f: self._progress(job_id, s, f),
                )  # fmt: skip
                registered: dict[str, Any] = {}
                if self.registry is not None:
                    # One insert: a job that failed before this point registered nothing.
                    v = register_joint(
                        self.registry, self.actor, self.model_name, job_id, result, config,
                        self.data, hash_key,
                    )  # fmt: skip
                    registered = {"model_name": v.model_name, "version": v.version}
                self.results[job_id] = result
                self.endpoint.update(
                    job_id, state="succeeded", metrics=result.metrics, timings=result.timings,
                    shared=result.shared, registered=registered or None,
                )  # fmt: skip
            else:

                def keep_half(session: PartnerSession) -> None:
                    half = PartnerHalf.of(job_id, hash_key, config.join_kind, session)
                    if self.data_dir is not None:
                        save_partner_half(self.data_dir, half)
                    self._halves[job_id] = half

                info = run_partner(
                    channel, self.data, config, hash_key=hash_key,
                    progress=lambda s, f: self._progress(job_id, s, f), on_done=keep_half,
                )  # fmt: skip
                self.results[job_id] = info
                self.endpoint.update(job_id, state="succeeded", summary=info)
        except FinbridgeError as exc:
            self.endpoint.update(job_id, state="failed", error=f"{exc.code}: {exc}")
        except Exception as exc:  # report, never kill the server
            self.endpoint.update(job_id, state="failed", error=f"internal: {exc!r}")
            traceback.print_exc()
        finally:
            self.endpoint.mailbox.drop_job(job_id)

    # -- online joint scoring ------------------------------------------------------------------
    def _half(self, job_id: str) -> PartnerHalf:
        half = self._halves.get(job_id)
        if half is None and self.data_dir is not None:
            half = load_partner_half(self.data_dir, job_id)  # NotFound if never finished
            self._halves[job_id] = half
        if half is None:
            raise NotFound(f"no finished joint model for job {job_id}", field="job_id")
        return half

    def share(self, job_id: str, key_hash: str) -> dict[str, Any]:
        """Partner: this customer's share for the bank (split directions and/or u_p)."""
        half = self._half(job_id)
        lookup = self._lookup.get(job_id)
        if lookup is None:
            hashes = hash_points(half.hash_key, self.data.ids, half.join_kind)
            lookup = {h.hex(): i for i, h in enumerate(hashes)}
            self._lookup[job_id] = lookup
        return half.share(self.data, lookup, key_hash)

    def _answer_score(self, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.share(job_id, str(body.get("key", "")))
