"""The simulated correspondent bank as its own process: HTTPS with mutual TLS (issue 15).

An interface package like ``finbridge.party``: a small ASGI app (Starlette, served by uvicorn)
over payments' :class:`~finbridge.payments.SimulatedCorrespondent`, which decides what each
transfer meets (accepted, rejected, returned days later). Our bank posts its pacs.008 to
``/pacs008`` and collects the answers (pacs.002, pacs.004) from ``/outbox`` once their delay has
passed; :func:`relay` does both through payments' face. Run it with
``python -m finbridge.correspondent --certs DIR`` (the partnership certificates of
``finbridge credit joint certs``: the correspondent holds ``partner``, our bank ``bank``).
"""

from finbridge.correspondent._app import Outbox, create_correspondent_app
from finbridge.correspondent._link import CorrespondentLink, relay
from finbridge.correspondent._server import CorrespondentServer

__all__ = [
    "CorrespondentLink",
    "CorrespondentServer",
    "Outbox",
    "create_correspondent_app",
    "relay",
]
