"""Our bank's side: send the pacs.008 messages that are ready, apply the answers that came.

HTTPS with mutual TLS (our ``bank`` certificate), one connection per link. Every message goes
through payments' face: ``export_pacs008`` validates before marking sent, ``receive`` refuses
anything malformed or hostile before it changes anything.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from finbridge.core.errors import FinbridgeError, ServiceUnavailable
from finbridge.core.principal import Principal
from finbridge.core.tls import tls_context
from finbridge.payments import PaymentsService, Report


@dataclass
class CorrespondentLink:
    url: str
    cert_dir: Path
    timeout: float = 30.0
    _conn: http.client.HTTPSConnection | None = field(default=None, init=False, repr=False)

    def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """One call; a dropped keep-alive connection is reopened once."""
        host, _, port = self.url.removeprefix("https://").rstrip("/").rpartition(":")
        for attempt in range(2):
            if self._conn is None:
                ctx = tls_context(self.cert_dir, "bank", server=False)
                self._conn = http.client.HTTPSConnection(host, int(port), context=ctx,
                                                         timeout=self.timeout)  # fmt: skip
            try:
                self._conn.request(method, path, body=body)
                resp = self._conn.getresponse()
                return resp.status, resp.read()
            except (OSError, http.client.HTTPException) as exc:
                self._conn.close()
                self._conn = None
                if attempt == 1:
                    raise ServiceUnavailable(f"the correspondent at {self.url}: {exc}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _json(self, path: str, body: bytes, expected: int) -> Any:
        status, data = self.request("POST", path, body)
        if status != expected:
            raise ServiceUnavailable(f"the correspondent answered {status}: {data[:200]!r}")
        return json.loads(data)

    def send(self, pacs008: bytes) -> int:
        """Deliver one pacs.008; returns how many answers the correspondent will give."""
        return int(self._json("/pacs008", pacs008, 202)["answers"])

    def collect(self) -> tuple[list[bytes], int]:
        """The answers now due (delivered once), and how many are still to come."""
        data = self._json("/outbox", b"", 200)
        return [m["xml"].encode() for m in data["messages"]], int(data["waiting"])


def relay(
    payments: PaymentsService, actor: Principal, link: CorrespondentLink
) -> tuple[int, list[Report], int]:
    """One round: send what is ready, apply what is due. Returns (messages sent, reports of
    the answers applied, answers still waiting at the correspondent). A message that cannot be
    delivered puts its transfers back to ``ready`` (with every later one) and raises. An answer
    payments refuses is left out of the reports (nothing changed) and raised after the
    others."""
    sent = 0
    messages = payments.crossborder.export_pacs008(actor)
    for n, (_message_id, xml) in enumerate(messages):
        try:
            link.send(xml)
        except ServiceUnavailable:
            # Not delivered (or not known to be): back to ready, sent again next round; the
            # correspondent answers an end-to-end id once, so a second copy is harmless.
            for later_id, _xml in messages[n:]:
                payments.crossborder.requeue(actor, later_id)
            raise
        sent += 1
    answers, waiting = link.collect()
    reports, refused = [], None
    for xml in answers:
        try:
            reports.append(payments.crossborder.receive(actor, xml))
        except FinbridgeError as exc:
            refused = exc
    if refused is not None:
        raise refused
    return sent, reports, waiting
