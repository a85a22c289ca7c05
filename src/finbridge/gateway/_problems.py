"""RFC 9457 problem documents for the gateway, matching the API's field for field.

The gateway is an interface beside the API, not on top of it (interfaces never import each
other), so it encodes the documents itself; their members come from
``core.errors.problem_document``/``problem_of``, exactly as in the API.
"""

from __future__ import annotations

import json
from typing import Any

from finbridge.core.errors import FinbridgeError, problem_document
from finbridge.core.errors import problem_of as errors_problem_of

PROBLEM_JSON = b"application/problem+json"


def problem_body(
    status: int, title: str, detail: str, *, code: str, instance: str | None, **extra: Any
) -> bytes:
    document = problem_document(status, title, detail, code=code, instance=instance, **extra)
    return _encode(document)


def problem_of(exc: FinbridgeError, instance: str) -> tuple[int, bytes]:
    """(status, body) for one of our errors."""
    status, document = errors_problem_of(exc, instance)
    return status, _encode(document)


def _encode(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
