"""Request/response over a protocol channel: the label holder asks, the partner answers."""

from __future__ import annotations

from typing import Any

import numpy as np

from finbridge.core.errors import ValidationError
from finbridge.credit.transport import Channel
from finbridge.credit.vfl import wire

CMD, REPLY = "vfl.cmd", "vfl.reply"


class PartnerRefused(ValidationError):
    """The partner refused a request (bad key size, unknown dataset, ...)."""

    code = "partner_refused"
    title = "The partner refused the request"


def call(
    channel: Channel,
    op: str,
    header: dict[str, Any] | None = None,
    arrays: dict[str, np.ndarray] | None = None,
    blob: bytes = b"",
    timeout: float | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray], bytes]:
    channel.send(CMD, wire.encode({"op": op, **(header or {})}, arrays, blob))
    head, arrs, data = wire.decode(channel.recv(REPLY, timeout))
    if "error" in head:
        raise PartnerRefused(f"partner: {head['error']}", field=str(head.get("field") or op))
    return head, arrs, data
