"""What an app page module needs, in one import (``from finbridge.app.kit import ...``).

Page modules live inside the app and are imported by :mod:`finbridge.app.mount`, so they import
this module rather than the package face (which imports the mount, and so the pages).
"""

from finbridge.app.cards import HomeCard
from finbridge.app.security import AppPlatformDep, AppPrincipalDep, customer_id
from finbridge.app.templating import AppNav, gettext, render

__all__ = [
    "AppNav",
    "AppPlatformDep",
    "AppPrincipalDep",
    "HomeCard",
    "customer_id",
    "gettext",
    "render",
]
