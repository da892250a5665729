"""The one place where amounts change shape: decimal strings <-> integer units.

Inside the platform every amount is an `int` count of the asset's smallest unit.
The API speaks decimal strings at the asset's precision. Nothing here uses floats,
and nothing rounds silently: an amount with more significant decimals than the asset
has is refused. The only rounding is explicit, for fees and payouts, and always in
the direction that never creates value (`mul_div_floor` for what a user receives,
`mul_div_ceil` for what a user pays).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation, localcontext

from config.domain_errors import ApplicationError
from wallet.errors import WalletErrorCode as Code

# Balances and amounts live in signed 64-bit columns (BigIntegerField).
MAX_UNITS = 2**63 - 1
# The whole syntax, and the only one: ASCII digits, at most one '.' with digits on
# both sides, an optional leading '-' (refused below unless the caller allows
# negatives). No '+', no exponent, no grouping, no whitespace of any kind around or
# inside (ASCII spaces included), no other script's digits. Matched with
# `fullmatch` and re.ASCII: `$` alone would also accept a trailing newline.
DECIMAL_SYNTAX = r"-?[0-9]+(?:\.[0-9]+)?"
_DECIMAL_RE = re.compile(DECIMAL_SYNTAX, re.ASCII)
_MAX_TEXT = 64


def _invalid(field: str, problem: str) -> ApplicationError:
    return ApplicationError(
        Code.INVALID_AMOUNT, f"{field}: {problem}", details={field: [problem]}
    )


def to_units(
    text: str,
    *,
    decimals: int,
    field: str = "amount",
    allow_zero: bool = False,
    allow_negative: bool = False,
) -> int:
    """Parse a decimal string exactly into integer units of an asset.

    `"12.5"` with `decimals=2` is `1250`. Refused, each with an `invalid_amount`
    error naming `field`: anything outside `DECIMAL_SYNTAX` (JSON numbers,
    exponents, NaN, '+', whitespace of any kind even around the digits, non-ASCII
    digits such as Arabic-Indic or full-width), more decimals than the asset has
    (trailing zeros are fine: they change nothing), zero or negative unless
    allowed, and magnitudes past the signed 64-bit limit.
    """
    if isinstance(text, bool) or not isinstance(text, str):
        raise _invalid(field, 'must be a decimal string such as "10.50".')
    if len(text) > _MAX_TEXT or not _DECIMAL_RE.fullmatch(text):
        raise _invalid(field, 'must be a decimal string such as "10.50".')
    with localcontext() as ctx:
        ctx.prec = 200
        try:
            value = Decimal(text).scaleb(decimals)
        except InvalidOperation as exc:  # pragma: no cover - regex guards this
            raise _invalid(field, "is not a number.") from exc
        if value != value.to_integral_value():
            raise _invalid(field, f"has more than {decimals} decimal places.")
        units = int(value)
    if units == 0 and not allow_zero:
        raise _invalid(field, "must be greater than zero.")
    if units < 0 and not allow_negative:
        raise _invalid(field, "must not be negative.")
    if abs(units) > MAX_UNITS:
        raise _invalid(field, "is too large.")
    return units


def format_units(units: int, decimals: int) -> str:
    """Integer units -> decimal string at the asset's precision (`1250, 2` ->
    `"12.50"`)."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise TypeError("units must be an int")
    sign = "-" if units < 0 else ""
    digits = str(abs(units))
    if decimals <= 0:
        return f"{sign}{digits}"
    digits = digits.rjust(decimals + 1, "0")
    return f"{sign}{digits[:-decimals]}.{digits[-decimals:]}"


def _check_operands(*values: int) -> None:
    for value in values:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError("operands must be ints")


def mul_div_floor(a: int, b: int, c: int) -> int:
    """floor(a * b / c) exactly, for non-negative a, b and positive c.

    Use it for what a user *receives* (payouts), so rounding never creates value."""
    _check_operands(a, b, c)
    if a < 0 or b < 0 or c <= 0:
        raise ValueError("mul_div_floor needs a >= 0, b >= 0, c > 0")
    return (a * b) // c


def mul_div_ceil(a: int, b: int, c: int) -> int:
    """ceil(a * b / c) exactly, for non-negative a, b and positive c.

    Use it for what a user *pays* (fees, required holds)."""
    _check_operands(a, b, c)
    if a < 0 or b < 0 or c <= 0:
        raise ValueError("mul_div_ceil needs a >= 0, b >= 0, c > 0")
    return -((-a * b) // c)
