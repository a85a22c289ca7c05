"""The served site: the API (``/v1``) with the operator console (``/console``) and the customer
app (``/app``) beside it.

The interfaces are independent of each other (the API imports no console code and the console
no API code); this module, above both, puts them in one ASGI app for ``finbridge serve``, the
demo and the tests. The risk decision gateway is served in its own process (``finbridge.gateway``).
"""

from __future__ import annotations

from fastapi import FastAPI

from finbridge.api import create_app as create_api
from finbridge.app import mount as mount_app
from finbridge.core.settings import Settings
from finbridge.platform import Platform
from finbridge.web import mount as mount_console


def create_app(settings: Settings | None = None, *, platform: Platform | None = None) -> FastAPI:
    """The API with the console mounted, on ``platform`` (or one built from ``settings``)."""
    app = create_api(settings, platform=platform)
    mount_console(app)
    mount_app(app)
    return app
