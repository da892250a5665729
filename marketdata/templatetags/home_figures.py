"""The signed-in home page's figures for a template that cannot import this app
(accounts renders the page: `{% load home_figures %}`; marketdata/home.py
computes)."""

from __future__ import annotations

import json

from django import template
from django.utils.safestring import mark_safe

from marketdata.home import home_summary, open_order_rows, watchlist_symbols
from trading.models import Instrument
from trading.units import ticks_to_price
from wallet.money import format_units
from wallet.selectors import entry_description, statement_entries

register = template.Library()


@register.simple_tag
def home_data(user) -> dict:
    summary = home_summary(user=user)
    recent = list(statement_entries(user=user)[:8])
    data: dict = {
        "summary": summary,
        "open_orders": open_order_rows(user=user),
        "watchlist": watchlist_symbols(user=user),
        "activity": [
            {
                "when": e.created_at,
                "text": entry_description(e, user=user),
                "amount": format_units(e.amount, e.account.asset.decimals),
                "asset": e.account.asset.code,
                "negative": e.amount < 0,
                "kind": e.account.kind,
            }
            for e in recent
        ],
    }
    if summary is not None:
        points = [
            {"time": day.isoformat(), "value": summary.fmt(units)}
            for day, units in summary.history
        ]
        data["history_json"] = mark_safe(json.dumps(points))  # noqa: S308 (ours)
    return data


@register.simple_tag
def market_rows() -> list[dict]:
    """The markets a visitor sees on the landing page (js/markets.js keeps the
    prices live from GET /api/v1/markets)."""
    instruments = (
        Instrument.objects.select_related("base", "quote")
        .exclude(status=Instrument.Status.CLOSED)
        .order_by("symbol")
    )
    return [
        {
            "instrument": instrument,
            "last_price": ticks_to_price(instrument, instrument.last_price_ticks),
        }
        for instrument in instruments
    ]
