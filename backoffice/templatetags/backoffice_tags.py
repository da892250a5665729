"""The admin index's "what waits for you" tiles, and money and age formatting for
the back-office pages (conversions from `wallet.money` and `trading.units`)."""

from __future__ import annotations

from datetime import timedelta

from django import template

from backoffice.selectors import ops_overview
from trading.units import lots_to_quantity, ticks_to_price
from wallet.money import format_units

register = template.Library()


@register.inclusion_tag("backoffice/ops_tiles.html", takes_context=True)
def ops_at_a_glance(context):
    request = context["request"]
    can_open_users = request.user.has_perm("accounts.view_user")
    return {
        "request": request,  # the tiles' <style> carries the request's CSP nonce
        "overview": ops_overview(user=request.user),
        "can_open_users": can_open_users,
    }


@register.filter
def units(amount: int | None, asset) -> str:
    """Integer units of `asset` as a decimal string:
    `{{ b.available|units:b.asset }}`."""
    if amount is None:
        return "—"
    return format_units(amount, asset.decimals)


@register.filter
def price(ticks: int | None, instrument) -> str:
    return ticks_to_price(instrument, ticks) or "market"


@register.filter
def quantity(lots: int | None, instrument) -> str:
    return lots_to_quantity(instrument, lots) or "—"


@register.filter
def age(delta: timedelta | None) -> str:
    """A compact age: "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    if delta is None:
        return "—"
    seconds = max(int(delta.total_seconds()), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min"
    return f"{seconds} s"
