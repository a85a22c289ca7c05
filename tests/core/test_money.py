from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from finbridge.core import CurrencyMismatch, Money, ValidationError


@pytest.mark.parametrize(
    ("amount", "code", "minor"),
    [
        ("12.30", "CNY", 1230),
        ("0", "USD", 0),
        ("100", "JPY", 100),
        ("1.234", "KWD", 1234),
        (5, "EUR", 500),
    ],
)
def test_valid_amounts_store_as_minor_units(amount: object, code: str, minor: int) -> None:
    assert Money.of(amount, code).minor == minor


@pytest.mark.parametrize(
    ("amount", "code", "match"),
    [
        (1.5, "CNY", "never a float"),
        ("0.001", "USD", "more decimal places"),
        ("1.5", "JPY", "more decimal places"),
        ("abc", "CNY", "not a decimal"),
        ("NaN", "CNY", "finite"),
        ("1", "XXX", "unsupported currency"),
    ],
)
def test_invalid_amounts_are_refused(amount: object, code: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        Money.of(amount, code)


def test_mixing_currencies_is_refused() -> None:
    with pytest.raises(CurrencyMismatch, match="CNY with USD"):
        Money.of("1", "CNY") + Money.of("1", "USD")


def test_rounding_is_explicit_half_even() -> None:
    assert Money.rounded(Decimal("0.125"), "CNY").amount == Decimal("0.12")
    assert Money.rounded(Decimal("0.135"), "CNY").amount == Decimal("0.14")


@given(st.integers(min_value=-(10**15), max_value=10**15), st.sampled_from(["CNY", "JPY", "KWD"]))
def test_minor_units_round_trip(minor: int, code: str) -> None:
    assert Money.from_minor(minor, code).minor == minor
    assert Money.of(str(Money.from_minor(minor, code).amount), code).minor == minor
