"""The customer app at ``/app`` (issue 13): server-rendered Jinja2 + HTMX, mobile first, in
Chinese (zh_CN, the default) and English, under a strict CSP (no inline script or style).

Everything is served from the package: htmx and ECharts from the console's vendored copies
(``finbridge.web.VENDOR_DIR``), the app's own ``static/app.css`` and ``static/app.js``.

How an engine adds an app page (one line in ``APP_PAGES``)
-----------------------------------------------------------
1. Create ``src/finbridge/app/pages/<pkg>.py``::

       from fastapi import APIRouter, Request
       from starlette.responses import Response

       from finbridge.app.kit import AppPlatformDep, AppPrincipalDep, customer_id, render

       router = APIRouter(prefix="/app/<pkg>", include_in_schema=False)

       @router.get("")
       def index(request: Request, actor: AppPrincipalDep, platform: AppPlatformDep) -> Response:
           data = platform.<pkg>.something(actor, customer_id(actor))  # the service authorises
           return render(request, "<pkg>/index.html", {"data": data})

   and add ONE line to ``APP_PAGES`` in :mod:`finbridge.app.mount`:
   ``(<pkg>.router, AppNav("Loans", "/app/<pkg>", 30)),`` (``None`` instead of an ``AppNav``
   keeps a page out of the tab bar). ``AppPrincipalDep`` is always a signed-in customer;
   anonymous visitors are redirected to ``/app/login``. Pass the principal to the services
   exactly as the API does: they check ownership (another customer's id -> ``NotFound`` -> 404).
2. Templates go in ``src/finbridge/app/templates/<pkg>/`` and start with
   ``{% extends "base.html" %}`` (blocks ``title``, ``content``; ``scripts`` for an extra
   ``<script src>``, but note that hx-boost swaps do not run a new page's head scripts: ECharts
   is loaded by ``static/app.js`` whenever a chart appears, and ``static/passkey.js`` is on
   every page).
   Every template gets ``_`` (translate), ``ngettext``, ``fmt`` (``fmt.money(Money)``,
   ``fmt.datetime(dt)``, ``fmt.date(d)``, ``fmt.number(n)`` in the customer's locale),
   ``csrf_token``, ``principal``, ``path``. ``{% from "_macros.html" import amount, chart %}``.
   No inline ``<script>``, no ``style=`` attributes, no ``on*=`` handlers (the CSP refuses
   them): put styles in classes (``static/app.css``) and charts in ``chart(id, option, label)``.
3. Forms are plain HTML forms that work without JavaScript (``method="post"``, answer with a
   page or a 303 redirect); ``hx-boost`` on ``<body>`` makes them feel like an app. EVERY form
   includes ``<input type="hidden" name="csrf_token" value="{{ csrf_token }}">``: the mount
   adds the CSRF check to every router, so a POST without it gets 403 and changes nothing.
   Forms that move money carry an idempotency key made when the form is rendered
   (``finbridge.core.ids.new_id()``), so a double submit posts once.
4. Text: write English msgids in ``_("...")`` and add the Chinese translation to
   ``app/locale/zh_CN/LC_MESSAGES/messages.po`` (and the msgid to ``app/locale/en/...``).
   ``pybabel extract -F src/finbridge/app/babel.cfg -o /tmp/app.pot src/finbridge/app`` lists
   every msgid; ``tests/app/test_i18n.py`` fails while a msgid has no Chinese translation.
   Messages built in Python: ``gettext(request, "...", **values)``.
5. Errors: raise (or let the services raise) the platform's errors; under ``/app`` they render
   as an app page in the customer's language with the right status code.

How an engine adds a home card (one line in ``HOME_CARDS``)
-----------------------------------------------------------
In the same page module (``from finbridge.app.kit import HomeCard``)::

    def card(platform: Platform, principal: Principal) -> Mapping[str, Any] | None:
        line = platform.<pkg>.credit_line(principal, customer_id(principal))
        return None if line is None else {"line": line}   # None: no card for this customer

    CARD = HomeCard("<pkg>", "<pkg>/_card.html", card, order=20)

and add ``<pkg>.CARD,`` to ``HOME_CARDS`` in :mod:`finbridge.app.mount`. The template is a
fragment (no ``extends``) that reads ``card`` (the dict) and starts with an ``<h2>``. A card that
raises is logged and left out; it never empties the home screen.

Delivering to the inbox (the Messages tab): ``platform.identity.inbox.deliver(system_principal,
customer_id, kind=..., title=..., body=..., link="/app/<pkg>/...", ref=...)``.
"""

from finbridge.app.kit import (
    AppNav,
    AppPlatformDep,
    AppPrincipalDep,
    HomeCard,
    customer_id,
    gettext,
    render,
)
from finbridge.app.mount import APP_PAGES, HOME_CARDS, mount

__all__ = [
    "APP_PAGES",
    "HOME_CARDS",
    "AppNav",
    "AppPlatformDep",
    "AppPrincipalDep",
    "HomeCard",
    "customer_id",
    "gettext",
    "mount",
    "render",
]
