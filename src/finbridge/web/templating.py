"""One Jinja2 environment for every console page, plus ``render`` and display filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from finbridge.core.clock import ensure_aware

TEMPLATES_DIR = Path(__file__).parent / "templates"

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


@dataclass(frozen=True, slots=True)
class NavEntry:
    label: str
    href: str
    order: int


def money(value: object, places: int | None = None) -> str:
    """Group thousands of a Decimal/decimal-string amount without ever going through float."""
    if value is None:
        return ""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return str(value)
    if places is not None:
        amount = amount.quantize(Decimal(1).scaleb(-places))
    return f"{amount:,}"


def dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # SQLite hands back naive UTC; treat it as such for display
        return value.strftime(fmt) + " UTC"
    return ensure_aware(value).strftime(fmt) + " UTC"


templates.env.filters["money"] = money
templates.env.filters["dt"] = dt


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """Render a console template with the navigation and the signed-in principal added."""
    full: dict[str, Any] = {
        "nav": getattr(request.app.state, "console_nav", []),
        "principal": getattr(request.state, "principal", None),
        "path": request.url.path,
    }
    full.update(context or {})
    return templates.TemplateResponse(request, name, full, status_code=status_code, headers=headers)
