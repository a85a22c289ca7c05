"""Who a presented credential belongs to, for every interface: one place, three kinds.

- ``fbk_...`` an operator API key (:class:`ApiKeyService`, with its verified-key cache);
- ``header.payload.signature`` a customer access token (:class:`SessionService`);
- ``fbs_...`` a console session id (:class:`ConsoleSessions`), opened by :meth:`sign_in_operator`
  or :meth:`sign_in_customer` and re-checked against its credential on every use.

Authentication only: what the principal may do is decided by each service it is passed to.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from finbridge.core.clock import Clock
from finbridge.core.errors import AuthenticationFailed
from finbridge.core.principal import Principal
from finbridge.core.ratelimit import RateLimiter
from finbridge.identity.apikeys import KEY_PREFIX, ApiKeyService
from finbridge.identity.console_sessions import CONSOLE_SESSION_PREFIX, ConsoleSessions
from finbridge.identity.sessions import SessionService
from finbridge.lake import Event, emit
from finbridge.store.engine import unit_of_work

CONSOLE_SOURCE = "console"


@dataclass(frozen=True, slots=True)
class ConsoleSignIn:
    principal: Principal
    token: str  # the console session id, for the HttpOnly cookie


@dataclass(frozen=True, slots=True)
class ClientInfo:
    """What the interface knows about the caller, for the login event (never trusted)."""

    ip: str | None = None
    user_agent: str | None = None


def credential_from_headers(authorization: str | None, x_api_key: str | None) -> str | None:
    """The credential an HTTP caller presents: ``X-API-Key``, else ``Authorization: Bearer``.

    Every interface (API, console, gateway) reads credentials with this one rule.
    """
    if x_api_key and x_api_key.strip():
        return x_api_key.strip()
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    return None


_CONSOLE_FAILURES = "console_login_failures_per_ip"


class Authenticator:
    def __init__(
        self,
        engine: Engine,
        clock: Clock,
        api_keys: ApiKeyService,
        sessions: SessionService,
        console: ConsoleSessions,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.api_keys = api_keys
        self.sessions = sessions
        self.console = console
        # Failed console sign-ins per client IP: a flood is refused (429) before any key lookup
        # and writes no event per attempt once the budget is spent.
        self._limiter = limiter

    def cached(self, credential: str) -> Principal | None:
        """A principal known without I/O (an API key verified moments ago), else None.

        Lets an async interface answer on the event loop and send only the rest to a thread.
        """
        if credential.startswith(f"{KEY_PREFIX}_"):
            return self.api_keys.cached(credential)
        return None

    def authenticate(self, credential: str) -> Principal:
        """The principal ``credential`` belongs to (may read the database)."""
        if credential.startswith(f"{KEY_PREFIX}_"):
            return self.api_keys.authenticate(credential)
        if credential.startswith(CONSOLE_SESSION_PREFIX):
            principal = self.console.resolve(credential)
            if principal is not None:
                return principal
            raise AuthenticationFailed("console session has ended; sign in again")
        if credential.count(".") == 2:  # a compact JWS, see identity.tokens
            return self.sessions.authenticate(credential)
        raise AuthenticationFailed("invalid credentials")

    def sign_in_operator(self, api_key: str, client: ClientInfo | None = None) -> ConsoleSignIn:
        """Console sign-in with an operator API key; every attempt becomes a ``login`` event.

        The key is checked once here and again on each use of the session, so revoking the
        key ends the session.
        """
        key = api_key.strip()
        ip = (client.ip if client is not None else None) or "unknown"
        if self._limiter is not None:
            self._limiter.check(_CONSOLE_FAILURES, ip)
        try:
            principal = self.api_keys.authenticate(key)
        except AuthenticationFailed:
            if self._limiter is not None:
                self._limiter.hit(_CONSOLE_FAILURES, ip)  # the last allowed one still records
            self._record_login(None, client, failure="invalid or revoked API key")
            raise
        self._record_login(principal.id, client)
        token = self.console.create(principal, lambda: self.api_keys.authenticate(key))
        return ConsoleSignIn(principal, token)

    def sign_in_customer(self, session_id: str) -> ConsoleSignIn:
        """A console session for a customer who just logged in (identity session ``session_id``).

        Logout, revoke-all or refresh-token reuse elsewhere ends the console session too.
        """
        principal = self.sessions.principal_for(session_id)
        token = self.console.create(principal, lambda: self.sessions.principal_for(session_id))
        return ConsoleSignIn(principal, token)

    def sign_out(self, token: str) -> None:
        self.console.end(token)

    def _record_login(
        self, key_id: str | None, client: ClientInfo | None, *, failure: str | None = None
    ) -> None:
        client = client or ClientInfo()
        payload = {
            "method": "api_key",
            "success": failure is None,
            "channel": "web",
            "ip": client.ip[:45] if client.ip else None,
            "user_agent": (client.user_agent or "")[:512] or None,
            "failure_reason": failure,
        }
        event = Event("login", self._clock.now(), payload, CONSOLE_SOURCE, subject_id=key_id)
        with unit_of_work(self._engine) as session:
            emit(session, event)

    def close(self) -> None:
        self.console.close()
