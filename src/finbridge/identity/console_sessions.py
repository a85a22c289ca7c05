"""Server-side console sessions: the cookie carries an opaque id, never the API key.

Sessions live in process memory (one store per platform), which fits the single-process console
this platform ships; a restart logs operators out. Each request re-authenticates the underlying
credential when one is kept (API keys, customer sessions), so revoking a key or logging out
elsewhere ends its console sessions at once. Idle and absolute timeouts bound a stolen cookie's
life.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from finbridge.core.clock import Clock
from finbridge.core.errors import FinbridgeError
from finbridge.core.principal import Principal

CONSOLE_SESSION_PREFIX = "fbs_"
CONSOLE_IDLE_TIMEOUT = timedelta(minutes=30)
CONSOLE_ABSOLUTE_TIMEOUT = timedelta(hours=8)

Reauthenticate = Callable[[], Principal]


@dataclass
class _Session:
    principal: Principal
    reauthenticate: Reauthenticate | None
    created_at: datetime
    last_seen: datetime


class ConsoleSessions:
    """Opaque session ids -> principals, with idle and absolute expiry."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}

    @staticmethod
    def _key(token: str) -> str:
        # Index by hash so a memory dump of the dict does not hand out live cookies.
        return hashlib.sha256(token.encode()).hexdigest()

    def create(self, principal: Principal, reauthenticate: Reauthenticate | None = None) -> str:
        """Open a session for ``principal``; returns the cookie value (``fbs_...``)."""
        token = CONSOLE_SESSION_PREFIX + secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._lock:
            self._sessions[self._key(token)] = _Session(principal, reauthenticate, now, now)
        return token

    def resolve(self, token: str) -> Principal | None:
        """The session's principal, or None when unknown, expired or its credential was revoked."""
        if not token.startswith(CONSOLE_SESSION_PREFIX):
            return None
        key = self._key(token)
        now = self._clock.now()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            idle, age = now - session.last_seen, now - session.created_at
            if idle > CONSOLE_IDLE_TIMEOUT or age > CONSOLE_ABSOLUTE_TIMEOUT:
                del self._sessions[key]
                return None
            session.last_seen = now
        if session.reauthenticate is None:
            return session.principal
        try:
            return session.reauthenticate()
        except FinbridgeError:
            self.end(token)
            return None

    def end(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(self._key(token), None)

    def __len__(self) -> int:
        return len(self._sessions)

    def close(self) -> None:
        with self._lock:
            self._sessions.clear()
