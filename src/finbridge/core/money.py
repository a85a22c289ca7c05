"""Money: ``Decimal`` amounts with an ISO 4217 currency, stored as integer minor units.

Floats are refused outright: a float cannot represent most decimal amounts exactly, and a bank
must never round by accident. Rounding is always explicit (ROUND_HALF_EVEN by default).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Final

from finbridge.core.errors import CurrencyMismatch, ValidationError


@dataclass(frozen=True, slots=True)
class Currency:
    """An ISO 4217 currency and the number of digits after its decimal point."""

    code: str
    minor_units: int
    name: str

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.minor_units)

    @property
    def max_amount(self) -> Decimal:
        """The largest amount one movement may carry, in major units (see MAX_AMOUNT_MINOR)."""
        return Decimal(MAX_AMOUNT_MINOR).scaleb(-self.minor_units)

    @property
    def max_balance(self) -> Decimal:
        """The largest balance (either sign) an account may hold, in major units."""
        return Decimal(MAX_BALANCE_MINOR).scaleb(-self.minor_units)


# Bounds in minor units, the same for every currency, so each currency's maximum in major units
# follows from its minor unit (TWD/USD/CNY 10^13 per movement, KWD 10^12, JPY 10^15). Storage is
# a signed 64-bit integer (max 9.22e18): a balance at its bound plus a movement at its bound is
# 1.01e17, so no arithmetic on a stored balance can overflow before a bound refuses it, and 92
# accounts at the bound still sum without overflow.
MAX_AMOUNT_MINOR: Final[int] = 10**15
MAX_BALANCE_MINOR: Final[int] = 10**17


CURRENCIES: Final[dict[str, Currency]] = {
    c.code: c
    for c in (
        Currency("CNY", 2, "Chinese yuan renminbi"),
        Currency("USD", 2, "US dollar"),
        Currency("HKD", 2, "Hong Kong dollar"),
        Currency("EUR", 2, "Euro"),
        Currency("GBP", 2, "Pound sterling"),
        Currency("JPY", 0, "Japanese yen"),
        Currency("SGD", 2, "Singapore dollar"),
        Currency("TWD", 2, "New Taiwan dollar"),
        Currency("KWD", 3, "Kuwaiti dinar"),
    )
}


def currency(code: str, *, field: str = "currency") -> Currency:
    """Look up a supported currency by ISO code, with an error naming ``field`` if unknown."""
    if not isinstance(code, str):
        raise ValidationError("currency must be a 3-letter ISO 4217 code", field=field)
    try:
        return CURRENCIES[code.upper()]
    except KeyError:
        supported = ", ".join(sorted(CURRENCIES))
        raise ValidationError(
            f"unsupported currency {code!r}; supported: {supported}", field=field
        ) from None


def within_bounds(amount: Money, field: str = "amount") -> Money:
    """``amount`` if one movement may carry it, else a ValidationError naming ``field``."""
    if abs(amount.minor) > MAX_AMOUNT_MINOR:
        raise ValidationError(
            f"amount exceeds the maximum of {amount.currency.max_amount:,} {amount.code}"
            " per movement",
            field=field,
            maximum=str(amount.currency.max_amount),
        )
    return amount


def _to_decimal(value: object, field: str) -> Decimal:
    if isinstance(value, (bool, float)):
        raise ValidationError(
            "amount must be a decimal string or integer, never a float", field=field
        )
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, (int, str)):
        try:
            result = Decimal(value.strip() if isinstance(value, str) else value)
        except InvalidOperation:
            raise ValidationError(f"{value!r} is not a decimal amount", field=field) from None
    else:
        raise ValidationError("amount must be a decimal string or integer", field=field)
    if not result.is_finite():
        raise ValidationError("amount must be a finite number", field=field)
    return result


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount of one currency.

    >>> Money.of("12.30", "CNY") + Money.of("0.70", "CNY")
    Money('13.00', 'CNY')
    >>> Money.of("0.001", "USD")
    Traceback (most recent call last):
    ...
    finbridge.core.errors.ValidationError: amount: 0.001 has more decimal places than USD allows (2)
    """

    amount: Decimal
    currency: Currency

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise ValidationError("Money.amount must be a Decimal", field="amount")
        exponent = self.amount.as_tuple().exponent
        if not isinstance(exponent, int) or -exponent > self.currency.minor_units:
            raise ValidationError(
                f"{self.amount} has more decimal places than {self.currency.code} allows"
                f" ({self.currency.minor_units})",
                field="amount",
            )

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def of(cls, amount: object, currency_code: str, *, field: str = "amount") -> Money:
        """Exact construction: refuses floats and amounts finer than the currency's minor unit."""
        cur = currency(currency_code)
        value = _to_decimal(amount, field)
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        if -exponent > cur.minor_units and value != value.quantize(cur.quantum):
            raise ValidationError(
                f"{value} has more decimal places than {cur.code} allows ({cur.minor_units})",
                field=field,
            )
        if value.adjusted() > 30:
            # Far beyond any bound (and beyond Decimal's 28-digit context): refuse, don't raise.
            raise ValidationError(
                f"amount exceeds the maximum of {cur.max_amount:,} {cur.code}", field=field
            )
        try:
            return cls(value.quantize(cur.quantum), cur)
        except InvalidOperation:
            raise ValidationError(
                f"amount exceeds the maximum of {cur.max_amount:,} {cur.code}", field=field
            ) from None

    @classmethod
    def from_minor(cls, minor: int, currency_code: str) -> Money:
        """From integer minor units as stored (e.g. fen for CNY)."""
        if isinstance(minor, bool) or not isinstance(minor, int):
            raise ValidationError("minor units must be an integer", field="amount")
        cur = currency(currency_code)
        return cls(Decimal(minor).scaleb(-cur.minor_units).quantize(cur.quantum), cur)

    @classmethod
    def zero(cls, currency_code: str) -> Money:
        return cls.from_minor(0, currency_code)

    @classmethod
    def rounded(cls, amount: Decimal, currency_code: str, rounding: str = ROUND_HALF_EVEN) -> Money:
        """Round an exact intermediate result (interest, FX) to the currency, explicitly."""
        cur = currency(currency_code)
        return cls(amount.quantize(cur.quantum, rounding=rounding), cur)

    # -- views --------------------------------------------------------------------------------
    @property
    def minor(self) -> int:
        """Integer minor units, the storage form."""
        return int(self.amount.scaleb(self.currency.minor_units))

    @property
    def code(self) -> str:
        return self.currency.code

    def is_zero(self) -> bool:
        return self.amount == 0

    def is_negative(self) -> bool:
        return self.amount < 0

    def is_positive(self) -> bool:
        return self.amount > 0

    # -- arithmetic (same currency only) ------------------------------------------------------
    def _check(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError("Money only combines with Money")
        if other.currency != self.currency:
            raise CurrencyMismatch(
                f"cannot combine {self.currency.code} with {other.currency.code}",
                field="currency",
            )

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    def __gt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount > other.amount

    def __ge__(self, other: Money) -> bool:
        self._check(other)
        return self.amount >= other.amount

    def __repr__(self) -> str:
        return f"Money('{self.amount}', '{self.currency.code}')"

    def __str__(self) -> str:
        return f"{self.amount:,} {self.currency.code}"

    def to_json(self) -> dict[str, str]:
        """Wire form: the amount as a decimal string, never a JSON number."""
        return {"amount": str(self.amount), "currency": self.currency.code}
