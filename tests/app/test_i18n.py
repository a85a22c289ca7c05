"""Every string the app shows has a Chinese translation, and both catalogues stay in step
with the source (the msgids pybabel extracts from the pages and templates)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import finbridge.app
from finbridge.app.i18n import Formatter, pick_locale
from finbridge.core import Money

APP = Path(finbridge.app.__file__).parent
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def _msgids() -> set[str]:
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(APP), METHODS, options_map=OPTIONS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def _catalog(locale: str) -> dict[str, object]:
    with (APP / "locale" / locale / "LC_MESSAGES" / "messages.po").open("rb") as fp:
        catalog = read_po(fp, locale=locale)
    return {(m.id if isinstance(m.id, str) else m.id[0]): m.string for m in catalog if m.id}


def test_every_msgid_has_a_chinese_translation() -> None:
    msgids = _msgids()
    assert len(msgids) > 100
    zh = _catalog("zh_CN")
    missing = sorted(m for m in msgids if not zh.get(m) or zh[m] == ("",))
    assert missing == [], f"add these to app/locale/zh_CN/LC_MESSAGES/messages.po: {missing}"
    assert msgids <= set(_catalog("en")), "run pybabel update for the en catalogue"


def test_money_and_dates_per_locale() -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    zh, en = Formatter("zh_CN", shanghai), Formatter("en", shanghai)
    amount = Money.of("1234567.5", "CNY")
    assert zh.money(amount) == "¥1,234,567.50" and en.money(amount) == "CN¥1,234,567.50"
    assert en.money(Decimal("-3"), "USD") == "-$3.00"
    at = datetime(2026, 12, 6, 16, 30, tzinfo=UTC)  # 00:30 the next day in Shanghai
    assert zh.datetime(at, "short") == "2026/12/7 00:30"
    assert en.datetime(at, "short").startswith("12/7/26")
    assert zh.datetime(at.replace(tzinfo=None), "short") == "2026/12/7 00:30"  # SQLite's naive UTC
    assert zh.gettext("Home") == "首页" and en.gettext("Home") == "Home"
    assert zh.ngettext("%(num)d unread message", "%(num)d unread messages", 3) == "3 条未读消息"
    assert (
        pick_locale("en-US") == "en"
        and pick_locale("fr") == "zh_CN"
        and pick_locale(None) == "zh_CN"
    )
