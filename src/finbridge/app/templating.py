"""One Jinja2 environment for the app's pages, with the request's language bound per render."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import Response

from finbridge.app.i18n import (
    LOCALE_COOKIE,
    LOCALES,
    Formatter,
    from_accept_language,
    pick_locale,
)
from finbridge.app.security import csrf_token

TEMPLATES_DIR = Path(__file__).parent / "templates"

_env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(default=True),
    extensions=["jinja2.ext.i18n"],
    # The templates ship with the package and change only with a release (a restart). Jinja's
    # default looked at every template file's mtime on every render: a stat per template, and
    # under load each one let go of the GIL and queued to take it back (a fifth of a home
    # page's samples, measured).
    auto_reload=False,
)
templates = Jinja2Templates(env=_env)
# Each render passes its own gettext (the request's language); the null catalogue only makes
# the i18n extension's ``{% trans %}`` tags compile.
_env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class AppNav:
    """An entry in the app's tab bar / menu: label (an English msgid, translated), path, order."""

    label: str
    href: str
    order: int


def formatter(request: Request) -> Formatter:
    cached = getattr(request.state, "formatter", None)
    if isinstance(cached, Formatter):
        return cached
    platform = request.app.state.platform
    chosen = getattr(request.state, "locale", None) or request.cookies.get(LOCALE_COOKIE)
    # The customer's own pick wins; until they make one, the browser's languages decide.
    locale = (
        pick_locale(chosen)
        if chosen
        else from_accept_language(request.headers.get("accept-language"))
    )
    fmt = Formatter(locale, ZoneInfo(platform.settings.business_timezone))
    request.state.formatter = fmt
    return fmt


def gettext(request: Request, message: str, **values: Any) -> str:
    """Translate ``message`` into the request's language (for messages made in Python)."""
    return formatter(request).gettext(message, **values)


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render an app template with the language, navigation, CSRF token and principal added."""
    fmt = formatter(request)
    full: dict[str, Any] = {
        "fmt": fmt,
        "_": fmt.gettext,
        "gettext": fmt.gettext,
        "ngettext": fmt.ngettext,
        "locales": LOCALES,
        "nav": getattr(request.app.state, "app_nav", []),
        "principal": getattr(request.state, "principal", None),
        "path": request.url.path,
        "csrf_token": csrf_token(request),
    }
    full.update(context or {})
    return templates.TemplateResponse(request, name, full, status_code=status_code, headers=headers)
