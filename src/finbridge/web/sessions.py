"""The console's session cookie. Sessions themselves live in identity
(:class:`finbridge.identity.ConsoleSessions`, opened by its authenticator's sign-in methods):
the cookie carries only the opaque session id (``fbs_...``), never a key."""

from __future__ import annotations

COOKIE_NAME = "finbridge_session"
