"""Apps' keys published at a JWKS URI: fetched through the SSRF guard, cached per process, and
fetched again when a client assertion names a ``kid`` the cached set lacks (the app rotated its
key), at most once per ``min_refresh`` per URI so random ``kid``s cannot make us a fetch loop.
A failed fetch keeps serving the last good set for ``max_stale``: an app's brief outage does not
lock it out, and a key it removed stops working at the next successful fetch."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from finbridge.core.clock import Clock
from finbridge.openbanking.keys import validate_jwks
from finbridge.openbanking.outbound import FetchLimits, FetchRefused, fetch


@dataclass(frozen=True, slots=True)
class _Cached:
    jwks: dict[str, Any]
    kids: frozenset[str]
    fetched_at: datetime  # last successful fetch
    tried_at: datetime  # last attempt, successful or not


class RemoteJwks:
    def __init__(
        self,
        clock: Clock,
        *,
        production: bool,
        limits: FetchLimits = FetchLimits(),
        max_age: timedelta = timedelta(minutes=5),
        min_refresh: timedelta = timedelta(seconds=10),
        max_stale: timedelta = timedelta(hours=1),
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._clock = clock
        self._production = production
        self._limits = limits
        self._max_age, self._min_refresh, self._max_stale = max_age, min_refresh, max_stale
        self._transport = transport
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()
        self.fetches = 0  # successful fetches by this process (tests and the benchmark read it)

    def keys(self, uri: str, kid: str | None) -> dict[str, Any]:
        """The app's JWKS for verifying a token signed with ``kid``, or ``FetchRefused``."""
        now = self._clock.now()
        with self._lock:
            cached = self._cache.get(uri)
        if cached is not None:
            fresh = now - cached.fetched_at < self._max_age
            known = kid is None or kid in cached.kids
            if (fresh and known) or now - cached.tried_at < self._min_refresh:
                return cached.jwks
        try:
            jwks = self._fetch(uri)
        except FetchRefused:
            if cached is not None and now - cached.fetched_at < self._max_stale:
                with self._lock:
                    self._cache[uri] = _Cached(cached.jwks, cached.kids, cached.fetched_at, now)
                return cached.jwks
            raise
        kids = frozenset(str(k["kid"]) for k in jwks["keys"] if "kid" in k)
        with self._lock:
            self._cache[uri] = _Cached(jwks, kids, now, now)
            self.fetches += 1
        return jwks

    def _fetch(self, uri: str) -> dict[str, Any]:
        body = fetch(uri, production=self._production, limits=self._limits,
                     transport=self._transport)  # fmt: skip
        try:
            return validate_jwks(json.loads(body))
        except (ValueError, UnicodeDecodeError) as exc:
            raise FetchRefused(f"not a usable JWKS ({str(exc)[:200]})") from None
