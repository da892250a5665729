import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config.errors import ApplicationError
from wallet.money import (
    DECIMAL_SYNTAX,
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
        ("100\u00a0", 'must be a decimal string such as "10.50".'),
        ("\u2007100", 'must be a decimal string such as "10.50".'),
        ("1\u202f000", 'must be a decimal string such as "10.50".'),
        ("100\u3000", 'must be a decimal string such as "10.50".'),
        (" 3.10", 'must be a decimal string such as "10.50".'),
        ("3.10 ", 'must be a decimal string such as "10.50".'),
        ("3.10\n", 'must be a decimal string such as "10.50".'),
        ("\t3.10", 'must be a decimal string such as "10.50".'),
        ("\u0661\u0660\u0660", 'must be a decimal string such as "10.50".'),
        ("\uff11\uff10\uff10", 'must be a decimal string such as "10.50".'),
        ("\u0967\u0966", 'must be a decimal string such as "10.50".'),
        ("1\u066b5", 'must be a decimal string such as "10.50".'),
        ("+1", 'must be a decimal string such as "10.50".'),
        ("1.", 'must be a decimal string such as "10.50".'),
        ("1.2.3", 'must be a decimal string such as "10.50".'),
        ("--1", 'must be a decimal string such as "10.50".'),
        ("1_000", 'must be a decimal string such as "10.50".'),
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


_SYNTAX = re.compile(DECIMAL_SYNTAX, re.ASCII)
_BAD_SYNTAX = 'amount: must be a decimal string such as "10.50".'
# Text near the language: its own characters, every kind of space, other scripts'
# digits and separators, signs; plus anything at all.
_NEAR = st.text(
    alphabet=st.sampled_from(
        list("0123456789.-+ \t\n\r\x0b\x0ce,_")
        + ["\u00a0", "\u2007", "\u202f", "\u3000", "\u0661", "\u06f5", "\uff11"]
        + ["\u0966", "\u066b", "\u00b7", "\u2212", "\ufe63", "\U0001d7ce"]
    ),
    max_size=12,
)


@given(st.one_of(_NEAR, st.text(max_size=12), st.from_regex(_SYNTAX, fullmatch=True)))
def test_to_units_accepts_exactly_the_documented_syntax(text):
    # given any text; when it is parsed with every sign and size allowed
    try:
        to_units(text, decimals=8, field="amount", allow_zero=True, allow_negative=True)
    except ApplicationError as exc:
        accepted, error = False, exc
    else:
        accepted, error = True, None
    # then it is accepted exactly when the whole text is in the regex's language
    # (and not too large or too precise, which are other, named refusals)
    in_language = _SYNTAX.fullmatch(text) is not None and len(text) <= 64
    if in_language:
        assert accepted or error.message in (
            "amount: has more than 8 decimal places.",
            "amount: is too large.",
        )
    else:
        assert not accepted
        assert error.code == "invalid_amount"
        assert error.message == _BAD_SYNTAX
        assert error.details == {
            "amount": ['must be a decimal string such as "10.50".']
        }


@given(
    st.integers(min_value=-MAX_UNITS, max_value=MAX_UNITS),
    st.integers(min_value=0, max_value=18),
)
def test_every_formatted_amount_is_in_the_language_and_round_trips(units, decimals):
    text = format_units(units, decimals)
    assert _SYNTAX.fullmatch(text)
    assert (
        to_units(text, decimals=decimals, allow_zero=True, allow_negative=True) == units
    )
