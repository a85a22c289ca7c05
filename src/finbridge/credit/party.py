"""What one party of a joint credit partnership answers, whatever carries the requests.

Each party (bank, partner) keeps a :class:`PartyEndpoint`: a mailbox for the other party's
protocol frames, the status of its jobs, and the hooks that start a job or answer an online
scoring request. The network side (HTTPS with mutual TLS) is the party server in
``finbridge.party``, an ASGI app that passes each request here with the role named by the
caller's certificate; this module decides who may do what:

- ``POST /mailbox/<job>/<topic>`` and ``POST /jobs/<id>/progress``: the other party only;
- ``POST /score/<job>``: the other party only (the partner answers the bank);
- ``POST /jobs``: our own operator (our role's certificate) or the other party;
- ``GET /jobs/<id>``: everyone with a partnership certificate, but the other party sees
  progress only, never results.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from finbridge.core.errors import NotFound, PayloadTooLarge, PermissionDenied, ValidationError
from finbridge.credit.pki import ROLES
from finbridge.credit.transport import Mailbox

MAX_FRAME = 64 * 1024 * 1024
PUBLIC_STATUS = ("job_id", "state", "stage", "progress", "role", "initiator", "peer")

JobStarter = Callable[[dict[str, Any]], str]
ScoreAnswer = Callable[[str, dict[str, Any]], dict[str, Any]]


def peer_of(role: str) -> str:
    if role not in ROLES:
        raise ValidationError(f"role must be one of {ROLES}", field="role")
    return "partner" if role == "bank" else "bank"


class PartyEndpoint:
    """One party's mailbox, job board and request rules (no transport here)."""

    def __init__(
        self,
        role: str,
        *,
        start_job: JobStarter | None = None,
        score: ScoreAnswer | None = None,
    ) -> None:
        self.role = role
        self.peer_role = peer_of(role)
        self.mailbox = Mailbox()
        self.start_job = start_job
        self.score_answer = score
        self._jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def update(self, job_id: str, **fields: Any) -> None:
        with self._lock:
            self._jobs.setdefault(job_id, {"job_id": job_id}).update(fields)

    def _from_peer(self, caller: str | None, what: str) -> None:
        if caller != self.peer_role:
            raise PermissionDenied(f"{caller} may not {what} here")

    # -- requests ------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        return {"role": self.role, "status": "ok"}

    def job_status(self, caller: str | None, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(job_id)
            snapshot = dict(job) if job else None
        if snapshot is None:
            raise NotFound("no such job", field="job_id")
        if caller != self.role:
            # The other party sees progress only; results stay with their owner.
            snapshot = {k: snapshot.get(k) for k in PUBLIC_STATUS}
        return snapshot

    def deliver(self, caller: str | None, job_id: str, topic: str, frame: bytes) -> None:
        self._from_peer(caller, "post")
        if len(frame) > MAX_FRAME:
            raise PayloadTooLarge("frame too large", field="body")
        self.mailbox.put(job_id, topic, frame)

    def peer_progress(self, caller: str | None, job_id: str, progress: dict[str, Any]) -> None:
        self._from_peer(caller, "post")
        self.update(job_id, peer=progress)

    def score(self, caller: str | None, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
        if self.score_answer is None:
            raise NotFound("this party does not answer scoring requests", field="job_id")
        self._from_peer(caller, "score")
        return self.score_answer(job_id, body)

    def start(self, caller: str | None, spec: dict[str, Any]) -> str:
        if self.start_job is None:
            raise NotFound("this party does not run jobs", field="job")
        if caller not in ROLES:
            raise PermissionDenied(f"{caller} may not start jobs here")
        try:
            return self.start_job({**spec, "requested_by": caller})
        except (ValueError, TypeError) as exc:  # a malformed spec (e.g. unknown parameters)
            raise ValidationError(str(exc), field="job") from None
