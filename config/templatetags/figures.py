"""Numbers on pages as people read them: thousands separators, a sign on P&L,
a colour class for gains and losses. Amounts arrive as the exact decimal strings
of wallet.money (never floats) or as integer units with their asset."""

from __future__ import annotations

from django import template

from config.page_messages import group_digits

register = template.Library()


def _units_text(units: int, decimals: int) -> str:
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), 10**decimals)
    text = f"{whole:,}"
    if decimals:
        text += "." + str(fraction).rjust(decimals, "0")
    return sign + text


@register.filter
def thousands(value):
    """ "9640100.00" -> "9,640,100.00"; other values unchanged."""
    if value is None or value == "":
        return value
    return group_digits(str(value))


@register.filter
def units(value, asset):
    """Integer units of `asset` -> "1,234.56 USD"."""
    if value is None:
        return ""
    return f"{_units_text(int(value), asset.decimals)} {asset.code}"


@register.filter
def units_signed(value, asset):
    """Like `units`, with "+" on a gain."""
    if value is None:
        return ""
    text = units(value, asset)
    return f"+{text}" if int(value) > 0 else text


@register.filter
def signed(value):
    """A decimal string with separators and "+" on a gain: "+1,234.50"."""
    if value is None or value == "":
        return value
    text = group_digits(str(value))
    return text if text.startswith("-") or _is_zero(text) else f"+{text}"


@register.filter
def signed_pct(value):
    if value is None or value == "":
        return ""
    return f"{signed(value)}%"


@register.filter
def pnl_class(value) -> str:
    """ "pnl-up" for a gain, "pnl-down" for a loss, "" otherwise."""
    if value is None or value == "":
        return ""
    text = str(value).replace(",", "")
    if text.startswith("-"):
        return "pnl-down"
    return "" if _is_zero(text) else "pnl-up"


def _is_zero(text: str) -> bool:
    return text.replace(",", "").lstrip("+-").replace(".", "").strip("0") == ""
