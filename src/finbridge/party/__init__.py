"""The party server: one party's HTTPS endpoint (mutual TLS) for joint credit jobs.

An interface package like ``finbridge.api``: a small ASGI app (Starlette, served by uvicorn)
over credit's :class:`~finbridge.credit.PartyEndpoint`, which decides what each request means.
It imports only credit's face; credit imports nothing from here.
"""

from finbridge.party._app import create_party_app
from finbridge.party._server import PartyServer, ReloadingTLS

__all__ = ["PartyServer", "ReloadingTLS", "create_party_app"]
