"""Languages of the app: gettext catalogues with Babel, money and dates formatted per locale.

The catalogues live in ``app/locale/<locale>/LC_MESSAGES/messages.po`` (``babel.cfg`` says how
to extract strings from the pages and templates; ``make`` is not needed: the ``.po`` files are
compiled in memory on first use, so no binary ``.mo`` goes into the repository and a stale one
can never shadow an edited catalogue). zh_CN is the default: the platform serves mainland
customers first; the customer switches with the language form, kept in a cookie.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.core import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations

from finbridge.core.clock import ensure_aware
from finbridge.core.money import Money

LOCALES: tuple[str, ...] = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LOCALE_COOKIE = "finbridge_lang"
LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"


def N_(message: str) -> str:
    """Mark ``message`` for extraction where it is translated later (constants, labels)."""
    return message


@cache
def translations(locale: str) -> Translations:
    """The compiled catalogue of ``locale`` (the source strings are English)."""
    po = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not po.exists():
        return Translations()
    with po.open("rb") as fp:
        catalog = read_po(fp, locale=locale, domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def pick_locale(value: str | None) -> str:
    """A supported locale from a cookie value (or a ``lang`` form field); zh_CN otherwise."""
    return (_supported(value) if value else None) or DEFAULT_LOCALE


def _supported(tag: str) -> str | None:
    """Our locale for a language tag (``en-US`` -> en, ``zh_CN`` -> zh_CN), or None."""
    normalized = tag.replace("-", "_")
    for locale in LOCALES:
        if normalized.lower() == locale.lower() or normalized.split("_")[0] == locale:
            return locale
    return None


def from_accept_language(header: str | None) -> str:
    """The supported locale the browser prefers most (``Accept-Language``, RFC 9110 12.5.4);
    zh_CN when it names none of ours. Used only until the customer picks a language."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "")[:512].split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = max(0.0, min(1.0, float(value)))  # a q-value, not money
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            ranked.append((-quality, position, tag))
    for _q, _pos, tag in sorted(ranked):
        found = _supported(tag)
        if found is not None:
            return found
        if tag.replace("_", "-").split("-")[0].lower() == "zh":  # zh-TW, zh-Hant: Chinese
            return DEFAULT_LOCALE
    return DEFAULT_LOCALE


@dataclass(frozen=True, slots=True)
class Formatter:
    """Everything a page shows in the customer's language, bound to one request."""

    locale: str
    timezone: ZoneInfo

    def gettext(self, message: str, **values: Any) -> str:
        text = translations(self.locale).gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: Any) -> str:
        text = translations(self.locale).ngettext(singular, plural, n)
        return text % ({"num": n} | values)

    def money(self, value: Money | Decimal | str, currency: str | None = None) -> str:
        """``¥1,234.50`` in Chinese, ``CN¥1,234.50`` in English; never through float."""
        if isinstance(value, Money):
            amount, code = value.amount, value.currency.code
        else:
            amount, code = Decimal(str(value)), currency or "CNY"
        return format_currency(amount, code, locale=self.locale)

    def number(self, value: Decimal | int) -> str:
        return format_decimal(value, locale=self.locale)

    def datetime(self, value: datetime | None, fmt: str = "medium") -> str:
        if value is None:
            return ""
        # SQLite hands back naive UTC instants; PostgreSQL aware ones.
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else ensure_aware(value)
        return format_datetime(aware, fmt, tzinfo=self.timezone, locale=self.locale)

    def date(self, value: date | None, fmt: str = "medium") -> str:
        return "" if value is None else format_date(value, fmt, locale=self.locale)

    @property
    def html_lang(self) -> str:
        return "zh-CN" if self.locale == "zh_CN" else self.locale

    def language_name(self, locale: str) -> str:
        """Each language named in itself, as language switchers do."""
        return Locale.parse(locale).get_display_name(locale) or locale
