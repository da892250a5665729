"""Browser pages: the markets list and the trade screen; and the streams'
AsyncAPI description (docs/asyncapi.yaml) served as a file.

Thin: the pages render the instrument's fixed facts; everything live (book, tape,
chart, ticker, my orders, fills and balances) is loaded by static/js/trade.js from
the public market-data API and streams and the user's own API and stream, with
the session cookie (and the CSRF token for writes).
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render

from calendars.selectors import CONTINUOUS, session_state_get
from config.errors import NotFound
from marketdata.formats import session_fields
from trading.models import Instrument
from trading.selectors import fee_rates, instrument_get
from trading.units import base_str, quote_str, ticks_to_price

INTERVALS = ("1m", "5m", "15m", "1h", "4h", "1d", "1w")
# The trade screen's words for the session phases, written once: the page
# renders them and hands them to static/js/trade.js (`phaseWords`) for the live
# updates.
PHASE_WORDS = {
    "pre_open": "Pre-open",
    "opening_auction": "Opening auction",
    "continuous": "Continuous trading",
    "volatility_auction": "Volatility auction",
    "pre_close": "Pre-close",
    "closing_auction": "Closing auction",
    "closed": "Closed",
}
DEFAULT_INTERVAL = "1h"  # the seeded demo history shows at once
ASYNCAPI_DOCUMENT = Path(settings.BASE_DIR) / "docs" / "asyncapi.yaml"


def asyncapi_document(request: HttpRequest) -> FileResponse:
    """The WebSocket streams' AsyncAPI 3.0 document, as committed (public, like
    /api/schema/)."""
    return FileResponse(
        ASYNCAPI_DOCUMENT.open("rb"), content_type="application/yaml; charset=utf-8"
    )


def markets(request: HttpRequest) -> HttpResponse:
    instruments = (
        Instrument.objects.select_related("base", "quote")
        .exclude(status=Instrument.Status.CLOSED)
        .order_by("symbol")
    )
    rows = [
        {
            "instrument": instrument,
            "last_price": ticks_to_price(instrument, instrument.last_price_ticks),
        }
        for instrument in instruments
    ]
    return render(request, "marketdata/markets.html", {"rows": rows})


def trade(request: HttpRequest, symbol: str) -> HttpResponse:
    try:
        instrument = instrument_get(symbol=symbol)
    except NotFound:
        raise Http404("No such market.") from None
    if instrument.status == Instrument.Status.CLOSED:
        raise Http404("This market is closed.")
    user = request.user
    state = session_state_get(instrument_id=instrument.pk)
    session = session_fields(state)
    maker_bps, taker_bps = (
        fee_rates(user=user, instrument=instrument)
        if user.is_authenticated
        else (instrument.maker_fee_bps, instrument.taker_fee_bps)
    )
    config = {
        "symbol": instrument.symbol,
        "base": instrument.base.code,
        "quote": instrument.quote.code,
        "baseDecimals": instrument.base.decimals,
        "quoteDecimals": instrument.quote.decimals,
        "tickSize": quote_str(instrument, instrument.tick_size),
        "lotSize": base_str(instrument, instrument.lot_size),
        "minQuantity": base_str(instrument, instrument.min_quantity),
        "minNotional": quote_str(instrument, instrument.min_notional),
        "makerFeeBps": maker_bps,
        "takerFeeBps": taker_bps,
        "feePolicy": instrument.fee_policy,
        "status": instrument.status,
        "statusReason": instrument.status_reason,
        "session": session,
        "phaseWords": PHASE_WORDS,
        # the user's own zone (a profile setting); empty: the browser's
        "timeZone": getattr(user, "time_zone", "") if user.is_authenticated else "",
        "defaultInterval": DEFAULT_INTERVAL,
        "authenticated": user.is_authenticated,
        "csrfToken": get_token(request) if user.is_authenticated else "",
        "intervals": list(INTERVALS),
        "api": "/api/v1",
    }
    return render(
        request,
        "marketdata/trade.html",
        {
            "instrument": instrument,
            "config": config,
            "intervals": INTERVALS,
            "default_interval": DEFAULT_INTERVAL,
            "review_large_percent": settings.TRADING_REVIEW_LARGE_PERCENT,
            "maker_bps": maker_bps,
            "taker_bps": taker_bps,
            "last_price": ticks_to_price(instrument, instrument.last_price_ticks),
            # shown for a calendar's phases; plain continuous trading says nothing
            "session": state,
            "session_shown": session != session_fields(CONTINUOUS),
            "phase_word": PHASE_WORDS.get(state.phase, state.phase),
            "next_word": PHASE_WORDS.get(state.next_phase or "", ""),
        },
    )
