"""The operator console at ``/console``: server-rendered Jinja2 + HTMX, charts with ECharts.

Everything is served from the package (``web/static/vendor`` holds htmx and ECharts, see its
PROVENANCE.md); no CDN, no build step.

How a package adds console pages (the convention)
-------------------------------------------------
1. Create ``src/finbridge/web/pages/<pkg>.py`` with::

       from fastapi import APIRouter, Request
       from fastapi.responses import HTMLResponse

       from finbridge.web import ConsolePrincipalDep, ConsolePlatformDep, render

       router = APIRouter(prefix="/console/<pkg>", include_in_schema=False)

       @router.get("", response_class=HTMLResponse)
       def index(request: Request, actor: ConsolePrincipalDep, platform: ConsolePlatformDep):
           data = platform.<pkg>.something(actor)   # the engine's face on the platform
           return render(request, "<pkg>/index.html", {"data": data})

   Then add one line to ``PAGES`` in :mod:`finbridge.web.mount` (router and menu entry, in
   menu order). Pages reach engines only through the platform's faces.
2. Templates go in ``src/finbridge/web/templates/<pkg>/`` and start with
   ``{% extends "base.html" %}``, filling ``{% block title %}`` and ``{% block content %}``.
   Fragments for HTMX swaps are plain templates without ``extends``.
3. Charts: ``{% from "_macros.html" import chart %}`` then ``{{ chart("id", option) }}`` where
   ``option`` is an ECharts option dict built in Python (decimal strings/ints, no functions);
   ``static/console.js`` initialises every chart on load and after each HTMX swap.
   Other helpers there: ``money(amount, currency)``, ``table(rows, columns)``.
   Filters: ``|money`` (Decimal or string amount -> "1,234.50"), ``|dt`` (aware datetime).
4. Every page depends on ``ConsolePrincipalDep``: anonymous visitors are redirected to
   ``/console/login`` (HTMX requests get ``HX-Redirect``). Authorisation stays in the services:
   pass the principal to them exactly as the API routes do.
5. Errors: raise the platform's errors (``NotFound``, ``PermissionDenied``...) or let the
   services raise them; under ``/console`` they render as an HTML page (``_error.html``) or, for
   HTMX requests, a fragment (``_error_fragment.html``) with the right status code, while
   ``/v1`` keeps problem+json. Form validation errors render the same way.
6. State-changing requests (POST/PUT/PATCH/DELETE under ``/console``) must be sent by HTMX
   (``hx-post`` etc.): the middleware refuses them without the ``HX-Request`` header or with a
   foreign ``Origin`` (CSRF defence on top of the SameSite=Strict session cookie).

Sessions: logging in with an operator API key creates a server-side session through identity's
authenticator (``platform.identity.authenticator.sign_in_operator``, or ``sign_in_customer``
after a customer login); the ``finbridge_session`` cookie holds only the opaque session id
(``fbs_...``), never the key.
"""

from __future__ import annotations

from finbridge.web.mount import VENDOR_DIR, mount
from finbridge.web.pages.lending_simulation import simulation_report
from finbridge.web.security import ConsolePlatformDep, ConsolePrincipalDep, LoginRequired
from finbridge.web.templating import render, templates

__all__ = [
    "VENDOR_DIR",
    "ConsolePlatformDep",
    "ConsolePrincipalDep",
    "LoginRequired",
    "mount",
    "render",
    "simulation_report",
    "templates",
]
