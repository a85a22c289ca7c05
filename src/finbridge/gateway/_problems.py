"""RFC 9457 problem documents for the gateway, matching the API's field for field.

The gateway is an interface beside the API, not on top of it (interfaces never import each
other), so it renders its own problem documents; the shape, codes and statuses come from the
error itself and ``core.errors.http_status``, as they do in the API.
"""

from __future__ import annotations

import json
from typing import Any

from finbridge.core.errors import FinbridgeError, http_status

PROBLEM_JSON = b"application/problem+json"
_RESERVED = frozenset({"type", "title", "status", "detail", "code", "instance", "field", "errors"})


def problem_body(
    status: int, title: str, detail: str, *, code: str, instance: str | None, **extra: Any
) -> bytes:
    body: dict[str, Any] = {
        "type": f"https://finbridge.dev/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance is not None:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def problem_of(exc: FinbridgeError, instance: str) -> tuple[int, bytes]:
    """(status, body) for one of our errors."""
    status = http_status(exc)
    extra = {k: v for k, v in exc.extra.items() if k not in _RESERVED and _jsonable(v)}
    body = problem_body(
        status, exc.title, exc.detail, code=exc.code, instance=instance, field=exc.field, **extra
    )
    return status, body


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True
