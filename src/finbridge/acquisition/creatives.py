"""Dynamic creatives: versioned Chinese / English templates filled from the profile and live data.

Templates use ``string.Template`` placeholders (``${headline_1}``): no attribute access or code,
so a template cannot reach anything but the named values. Every placeholder must be one of
:data:`FIELDS`; a template naming anything else, or with a stray ``$``, is refused when it is
saved, never at send time.
"""

from __future__ import annotations

from dataclasses import dataclass
from string import Template
from typing import Any

from finbridge.core.errors import ValidationError

LOCALES = ("zh-CN", "en")
PARTS = ("title", "body")
FIELDS: dict[str, str] = {
    "date": "the delivery's local date",
    "headline_1": "the morning's first headline",
    "headline_2": "the second headline",
    "headline_3": "the third headline",
    "headline_date": "the date the headlines are from",
    "portfolio_total": "the customer's balance total",
    "portfolio_change": "its change since yesterday (signed)",
    "currency": "the portfolio's currency",
    "offer_name": "the campaign offer's name (needs an offer)",
    "top_topic": "the customer's strongest news interest",
}
MAX_LENGTH = {"title": 120, "body": 2000}


@dataclass(frozen=True)
class CreativeTemplates:
    templates: dict[str, dict[str, str]]  # locale -> part -> text
    fields: tuple[str, ...]

    @classmethod
    def parse(cls, raw: Any) -> CreativeTemplates:
        if not isinstance(raw, dict) or not raw:
            raise ValidationError(
                "templates must map a locale to a title and body", field="templates"
            )
        used: set[str] = set()
        clean: dict[str, dict[str, str]] = {}
        for locale, parts in raw.items():
            where = f"templates.{locale}"
            if locale not in LOCALES:
                raise ValidationError(f"locale must be one of {list(LOCALES)}", field=where)
            if not isinstance(parts, dict) or set(parts) != set(PARTS):
                raise ValidationError("each locale needs exactly a title and a body", field=where)
            clean[locale] = {}
            for part in PARTS:
                text = parts[part]
                field = f"{where}.{part}"
                if not isinstance(text, str) or not text.strip():
                    raise ValidationError(f"{part} must be non-empty text", field=field)
                if len(text) > MAX_LENGTH[part]:
                    raise ValidationError(f"{part} is longer than {MAX_LENGTH[part]}", field=field)
                template = Template(text)
                if not template.is_valid():
                    raise ValidationError(
                        "a '$' that is not ${field} (write $$ for a dollar sign)", field=field
                    )
                names = set(template.get_identifiers())
                unknown = sorted(names - FIELDS.keys())
                if unknown:
                    raise ValidationError(
                        f"unknown field(s) {unknown}; known: {sorted(FIELDS)}", field=field
                    )
                used |= names
                clean[locale][part] = text
        return cls(clean, tuple(sorted(used)))

    def render(self, locale: str, values: dict[str, str]) -> tuple[str, str]:
        """Title and body in ``locale`` (else the first saved locale)."""
        parts = self.templates.get(locale) or next(iter(self.templates.values()))
        missing = sorted(set(self.fields) - values.keys())
        if missing:
            raise ValidationError(f"no value for {missing}", field="fields")
        return (
            Template(parts["title"]).substitute(values),
            Template(parts["body"]).substitute(values),
        )


# What a phone's lock screen shows of a notification before cutting it (APNs and FCM banners
# show about two lines): the push form of a message is cut to these, the app has the rest.
PUSH_TITLE_MAX = 40
PUSH_BODY_MAX = 120
APP_PAGE = "/app/acquisition"  # the customer app's "For you" page, where messages are read


@dataclass(frozen=True)
class PushMessage:
    title: str  # at most PUSH_TITLE_MAX characters
    body: str  # at most PUSH_BODY_MAX characters, one line
    deep_link: str  # a same-site app path opening the full message


def _cut(text: str, limit: int) -> str:
    flat = " ".join(text.split())  # a banner is one line: newlines and runs of spaces collapse
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def deep_link(delivery_id: str) -> str:
    return f"{APP_PAGE}?delivery={delivery_id}"


def push_of(title: str, body: str, delivery_id: str) -> PushMessage:
    """The push form of a rendered message: title and body cut to what a lock screen shows
    (ending in "…" when cut), and a deep link to the whole message in the app."""
    return PushMessage(
        _cut(title, PUSH_TITLE_MAX), _cut(body, PUSH_BODY_MAX), deep_link(delivery_id)
    )


FINANCE_BREAKFAST: dict[str, dict[str, str]] = {
    "zh-CN": {
        "title": "财经早餐 ${date}",
        "body": "今日要闻（${headline_date}）：\n"
        "1. ${headline_1}\n2. ${headline_2}\n3. ${headline_3}\n"
        "您的资产：${portfolio_total} ${currency}（较昨日 ${portfolio_change}）",
    },
    "en": {
        "title": "Finance breakfast ${date}",
        "body": "Headlines (${headline_date}):\n"
        "1. ${headline_1}\n2. ${headline_2}\n3. ${headline_3}\n"
        "Your balances: ${portfolio_total} ${currency} (${portfolio_change} since yesterday)",
    },
}
