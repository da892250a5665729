"""The signed-in user's watchlist: GET the list with last price and 24 h change,
PUT a symbol to add it, DELETE to remove it. The rows live in trading
(`WatchlistEntry`, services `watchlist_add` / `watchlist_remove`); the prices
are market data, which is why the endpoint is here."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi import error_responses
from marketdata.selectors import window_stats
from trading import services
from trading.models import Instrument, WatchlistEntry
from trading.selectors import instrument_get
from trading.units import ticks_to_price


class WatchlistItemSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    last_price = serializers.CharField(allow_null=True)
    change_24h_pct = serializers.CharField(allow_null=True)


class WatchlistSerializer(serializers.Serializer):
    results = WatchlistItemSerializer(many=True)


def watchlist_item(instrument: Instrument) -> dict:
    """One row: the last traded price and the change against the price 24 h ago
    (the first 1m candle's open in the rolling window), in percent, 2 places."""
    last = instrument.last_price_ticks
    opening = window_stats(instrument=instrument).open
    percent = None
    if last is not None and opening:
        value = Decimal((last - opening) * 100) / Decimal(opening)
        percent = str(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
    return {
        "symbol": instrument.symbol,
        "last_price": ticks_to_price(instrument, last),
        "change_24h_pct": percent,
    }


def watchlist_items(*, user) -> list[dict]:
    entries = WatchlistEntry.objects.filter(user=user).select_related(
        "instrument__base", "instrument__quote"
    )
    return [watchlist_item(entry.instrument) for entry in entries]


class WatchlistView(APIView):
    @extend_schema(
        tags=["watchlist"],
        responses={200: WatchlistSerializer, **error_responses(401)},
        summary="My watchlist with last price and 24h change",
    )
    def get(self, request):
        return Response({"results": watchlist_items(user=request.user)})


class WatchlistEntryView(APIView):
    @extend_schema(
        tags=["watchlist"],
        request=None,
        responses={
            200: WatchlistItemSerializer,
            201: WatchlistItemSerializer,
            **error_responses(401, 404),
        },
        summary="Add an instrument to my watchlist (201 added, 200 already there)",
    )
    def put(self, request, symbol: str):
        instrument = instrument_get(symbol=symbol)
        _, created = services.watchlist_add(user=request.user, instrument=instrument)
        return Response(
            watchlist_item(instrument),
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        tags=["watchlist"],
        request=None,
        responses={204: None, **error_responses(401, 404)},
        summary="Remove an instrument from my watchlist (204 even if absent)",
    )
    def delete(self, request, symbol: str):
        instrument = instrument_get(symbol=symbol)
        services.watchlist_remove(user=request.user, instrument=instrument)
        return Response(status=status.HTTP_204_NO_CONTENT)
