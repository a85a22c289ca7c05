"""PRC business days for due dates (``chinese-calendar``, which carries the State Council's
holiday and make-up working day notices).

The package only knows the years the State Council has published; beyond them a date is a
workday when it is Monday to Friday, and :func:`calendar_covers` says so, so due dates far in the
future are still computed (and recomputed the same way) instead of failing the COB.
"""

from __future__ import annotations

import calendar as _cal
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar


def calendar_covers(day: date) -> bool:
    try:
        chinese_calendar.is_workday(day)
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=4096)
def is_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return day.weekday() < 5


def next_workday(day: date) -> date:
    """``day`` itself when it is a PRC workday, else the next one."""
    while not is_workday(day):
        day += timedelta(days=1)
    return day


@lru_cache(maxsize=1024)  # the statement cut asks once per line, for few distinct pairs
def statement_date_after(day: date, statement_day: int) -> date:
    """The first statement date strictly after ``day`` (statement days are 1..28)."""
    candidate = day.replace(day=statement_day)
    if candidate > day:
        return candidate
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return date(year, month, min(statement_day, _cal.monthrange(year, month)[1]))


@lru_cache(maxsize=1024)
def due_date_for(statement_date: date, due_days: int) -> date:
    return next_workday(statement_date + timedelta(days=due_days))
