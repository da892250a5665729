"""Trading panels for other apps' back-office pages. A template loads them, so
the page's app never imports trading (the apps' dependencies point one way:
docs/architecture.md)."""

from __future__ import annotations

from django import template

from accounts.models import User
from trading.selectors import fill_list
from trading.units import lots_to_quantity, quote_str, ticks_to_price

register = template.Library()


@register.inclusion_tag("trading/partials/recent_fills.html")
def user_recent_fills(user: User, count: int = 10) -> dict:
    """The user's last `count` fills, formatted (a withdrawal reviewer's view of
    how the user has been trading)."""
    rows = []
    for fill in fill_list(user=user).order_by("-created_at", "-id")[:count]:
        instrument = fill.instrument
        rows.append(
            (
                fill,
                instrument.symbol,
                ticks_to_price(instrument, fill.price_ticks),
                lots_to_quantity(instrument, fill.quantity_lots),
                quote_str(instrument, fill.quote_amount),
            )
        )
    return {"fills": rows}
