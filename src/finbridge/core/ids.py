"""Identifiers: time-ordered UUIDv7 strings, so primary keys index well and sort by creation."""

from __future__ import annotations

import os
import threading
import time
import uuid

_lock = threading.Lock()
_last_ms = 0
_seq = 0
# Random bits are drawn from the OS 4 KiB at a time (512 ids), not 8 bytes per id: each
# ``os.urandom`` releases the GIL, and in a process whose threads contend for it (a server's
# request threads posting transfers) every id then cost a wait to win the GIL back.
_BLOCK = 4096
_pool = b""
_taken = 0


def _renew_in_child() -> None:
    """After ``fork``: the parent's unread random bytes would give the child the parent's next
    ids, and a parent thread may have held the lock at the moment of the fork."""
    global _lock, _pool, _taken
    _lock = threading.Lock()
    _pool, _taken = b"", 0


os.register_at_fork(after_in_child=_renew_in_child)


def new_id() -> str:
    """A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, a 12-bit counter, 62 random bits."""
    global _last_ms, _seq, _pool, _taken
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            # Same millisecond (or the clock stepped back): keep ids monotonic with the counter.
            ms = _last_ms
            _seq += 1
            if _seq > 0xFFF:
                ms += 1
                _seq = 0
        else:
            _seq = 0
        _last_ms = ms
        seq = _seq
        if _taken >= len(_pool):
            _pool, _taken = os.urandom(_BLOCK), 0
        rand = int.from_bytes(_pool[_taken : _taken + 8], "big") & ((1 << 62) - 1)
        _taken += 8
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= seq << 64
    value |= 0b10 << 62
    value |= rand
    # Formatted directly: building a uuid.UUID only to print it doubled the cost, which bulk
    # writers (a campaign's 100,000 deliveries) pay once per row.
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def new_secret_id() -> str:
    """A UUIDv4 (RFC 9562): 122 bits from the OS, for an id that is itself a capability (a
    request-money link: whoever has it may see and pay the request). A UUIDv7's 62 random bits
    sit below the 64 that OWASP asks of a session-like secret, and its first 48 bits tell when it
    was made; this one says nothing and cannot be guessed from its neighbours."""
    return str(uuid.UUID(bytes=os.urandom(16), version=4))


def is_valid_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True
