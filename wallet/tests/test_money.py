import pytest

from config.errors import ApplicationError
from wallet.money import (
    MAX_UNITS,
    format_units,
    mul_div_ceil,
    mul_div_floor,
    to_units,
)


@pytest.mark.parametrize(
    ("text", "decimals", "units"),
    [
        ("12.5", 2, 1250),
        ("12.50", 2, 1250),
        ("0.01", 2, 1),
        ("1", 8, 100_000_000),
        ("0.00000001", 8, 1),
        ("  3.10  ", 2, 310),
        ("1.500", 2, 150),  # trailing zeros change nothing
        ("42", 0, 42),
        ("92233720368547758.07", 2, MAX_UNITS),
    ],
)
def test_to_units_parses_exactly(text, decimals, units):
    assert to_units(text, decimals=decimals, field="amount") == units


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("-1", "must not be negative."),
        ("0", "must be greater than zero."),
        ("0.00", "must be greater than zero."),
        ("1.001", "has more than 2 decimal places."),
        ("abc", 'must be a decimal string such as "10.50".'),
        ("1e5", 'must be a decimal string such as "10.50".'),
        ("NaN", 'must be a decimal string such as "10.50".'),
        ("Infinity", 'must be a decimal string such as "10.50".'),
        ("", 'must be a decimal string such as "10.50".'),
        (".5", 'must be a decimal string such as "10.50".'),
        ("1,000", 'must be a decimal string such as "10.50".'),
        ("92233720368547758.08", "is too large."),
        ("99999999999999999999999999", "is too large."),
    ],
)
def test_to_units_refuses_bad_input_naming_the_field(text, problem):
    with pytest.raises(ApplicationError) as info:
        to_units(text, decimals=2, field="amount")
    assert info.value.code == "invalid_amount"
    assert info.value.message == f"amount: {problem}"
    assert info.value.details == {"amount": [problem]}


@pytest.mark.parametrize("value", [10, 10.5, None, True, ["1"]])
def test_to_units_refuses_non_strings(value):
    with pytest.raises(ApplicationError) as info:
        to_units(value, decimals=2, field="minimum")
    assert info.value.message.startswith("minimum: must be a decimal string")


def test_to_units_allows_zero_and_negative_when_asked():
    assert to_units("0", decimals=2, allow_zero=True) == 0
    assert to_units("-1.25", decimals=2, allow_negative=True) == -125


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [
        (1250, 2, "12.50"),
        (5, 2, "0.05"),
        (-5, 2, "-0.05"),
        (0, 8, "0.00000000"),
        (42, 0, "42"),
        (MAX_UNITS, 2, "92233720368547758.07"),
    ],
)
def test_format_units(units, decimals, text):
    assert format_units(units, decimals) == text
    assert (
        to_units(text, decimals=decimals, allow_zero=True, allow_negative=True) == units
    )


def test_rounding_helpers_never_create_value():
    # 0.1% fee on 1001 units: the payer pays 2 (ceil), a payout of 1.001 gives 1.
    assert mul_div_ceil(1001, 10, 10_000) == 2
    assert mul_div_floor(1001, 10, 10_000) == 1
    assert mul_div_ceil(1000, 10, 10_000) == mul_div_floor(1000, 10, 10_000) == 1
    # Huge operands stay exact (Python ints): price * qty past 64 bits.
    assert mul_div_floor(MAX_UNITS, MAX_UNITS, MAX_UNITS) == MAX_UNITS
    with pytest.raises(TypeError):
        mul_div_floor(1.5, 2, 3)
    with pytest.raises(ValueError):
        mul_div_ceil(1, 2, 0)
