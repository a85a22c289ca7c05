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

from finbridge.core.errors import FinbridgeError, ValidationError
from finbridge.core.ids import new_id
from finbridge.credit.party import PartyServer, PeerLink, https_channel
from finbridge.credit.vfl.data import PartyData
from finbridge.credit.vfl.gbdt import BoostParams
from finbridge.credit.vfl.job import JointConfig, JointResult, run_bank, run_partner
from finbridge.credit.vfl.lr import LRParams


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
        self.server = PartyServer(role, cert_dir, host=host, port=port, start_job=self._start)
        self.peer = PeerLink(peer_url, cert_dir, role)
        self.results: dict[str, JointResult | dict[str, Any]] = {}

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
                info = run_partner(
                    channel, self.data, config, hash_key=hash_key,
                    progress=lambda s, f: self._progress(job_id, s, f),
                )  # fmt: skip
                self.results[job_id] = info
                self.server.update(job_id, state="succeeded", summary=info)
        except FinbridgeError as exc:
            self.server.update(job_id, state="failed", error=f"{exc.code}: {exc}")
        except Exception as exc:  # report, never kill the server
            self.server.update(job_id, state="failed", error=f"internal: {exc!r}")
            traceback.print_exc()
        finally:
            self.server.mailbox.drop_job(job_id)

    def serve_in_background(self) -> PartyService:
        self.server.serve_in_background()
        return self

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def close(self) -> None:
        self.server.close()
