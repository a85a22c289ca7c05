"""Message encoding for the vertical protocols: a JSON header plus raw numeric arrays.

Never pickle: a peer's bytes are parsed as JSON and fixed-dtype arrays only, and every array is
checked against the size its header declares.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from finbridge.core.errors import ValidationError

_LEN = struct.Struct(">I")
ALLOWED = {"<u4", "<i8", "<f8", "|b1", "|u1", "<i2"}


def encode(
    header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None, blob: bytes = b""
) -> bytes:
    arrays = arrays or {}
    meta = []
    chunks = []
    for name, arr in arrays.items():
        a = np.ascontiguousarray(arr)
        meta.append([name, a.dtype.str, list(a.shape)])
        chunks.append(a.tobytes())
    head = json.dumps({"h": header, "a": meta, "blob": len(blob)}).encode()
    return _LEN.pack(len(head)) + head + b"".join(chunks) + blob


def decode(data: bytes) -> tuple[dict[str, Any], dict[str, np.ndarray], bytes]:
    try:
        (n,) = _LEN.unpack(data[:4])
        head = json.loads(data[4 : 4 + n])
        pos = 4 + n
        arrays = {}
        for name, dtype, shape in head["a"]:
            if dtype not in ALLOWED:
                raise ValueError(dtype)
            dt = np.dtype(dtype)
            size = int(np.prod(shape)) * dt.itemsize
            arrays[name] = np.frombuffer(data[pos : pos + size], dtype=dt).reshape(shape)
            pos += size
        blob = data[pos : pos + int(head["blob"])]
        if pos + int(head["blob"]) != len(data):
            raise ValueError("length")
    except (ValueError, KeyError, TypeError, struct.error) as exc:
        raise ValidationError(f"malformed protocol message ({exc})", field="message") from None
    return head["h"], arrays, blob
