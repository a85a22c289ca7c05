"""Server-side console sessions: the cookie carries an opaque id, never the API key.

Sessions live in process memory (one dict per :class:`~finbridge.platform.Platform`), which fits
the single-process console this issue ships; a restart logs operators out. Each request
re-authenticates the underlying credential when one is kept (API keys), so revoking a key ends
its console sessions at once. Idle and absolute timeouts bound a stolen cookie's life.
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
from finbridge.platform import Platform

SESSION_PREFIX = "fbs_"
COOKIE_NAME = "finbridge_session"
IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=8)
_STATE_KEY = "web.sessions"

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
        token = SESSION_PREFIX + secrets.token_urlsafe(32)
        now = self._clock.now()
        with self._lock:
            self._sessions[self._key(token)] = _Session(principal, reauthenticate, now, now)
        return token

    def resolve(self, token: str) -> Principal | None:
        """The session's principal, or None when unknown, expired or its credential was revoked."""
        if not token.startswith(SESSION_PREFIX):
            return None
        key = self._key(token)
        now = self._clock.now()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                return None
            idle, age = now - session.last_seen, now - session.created_at
            if idle > IDLE_TIMEOUT or age > ABSOLUTE_TIMEOUT:
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


def sessions_of(platform: Platform) -> ConsoleSessions:
    """The platform's session store, created (and registered as an authenticator) on first use."""
    store = platform.state.get(_STATE_KEY)
    if store is None:
        store = ConsoleSessions(platform.clock)
        platform.state[_STATE_KEY] = store

        def authenticate(_platform: Platform, credential: str) -> Principal | None:
            return store.resolve(credential)

        # api.deps.get_principal asks every registered authenticator about non-API-key
        # credentials, so the same cookie also works for /v1 calls made by console pages.
        platform.state.setdefault("authenticators", []).append(authenticate)
    return store  # type: ignore[no-any-return]


def start_session(
    platform: Platform, principal: Principal, reauthenticate: Reauthenticate | None = None
) -> str:
    """Open a console session for ``principal``; returns the cookie value (``fbs_...``)."""
    return sessions_of(platform).create(principal, reauthenticate)
