"""Market data endpoints: public reads (no login) and the user's event replay.
Thin: selectors build the contract's shapes."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import JWTAuthentication
from apikeys.authentication import ApiKeyAuthentication
from config.openapi import error_responses
from marketdata import selectors
from marketdata.api import serializers as s
from trading.selectors import instrument_get


class PublicView(APIView):
    """No authentication at all: a stale token on a public read is not an error."""

    authentication_classes: list = []
    permission_classes = [AllowAny]


class MarketListView(PublicView):
    @extend_schema(
        tags=["market data"],
        responses={200: s.MarketListSerializer},
        summary="Instruments with last price and 24h change",
    )
    def get(self, request):
        return Response({"results": selectors.market_list()})


class DepthView(PublicView):
    @extend_schema(
        tags=["market data"],
        parameters=[s.DepthQuerySerializer],
        responses={200: s.DepthSerializer, **error_responses(400, 404)},
        summary="Order book depth (aggregated levels) at a sequence",
        description=(
            "`sequence` is the instrument's public sequence: apply /ws/market/ "
            "deltas with seq > sequence to continue from here."
        ),
    )
    def get(self, request, symbol: str):
        query = s.DepthQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        instrument = instrument_get(symbol=symbol)
        return Response(
            selectors.depth_get(
                instrument=instrument, limit=query.validated_data["limit"]
            )
        )


class TradeListView(PublicView):
    @extend_schema(
        tags=["market data"],
        parameters=[s.TradesQuerySerializer],
        responses={200: s.TradeListSerializer, **error_responses(400, 404)},
        summary="Recent trades, newest first",
    )
    def get(self, request, symbol: str):
        query = s.TradesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        instrument = instrument_get(symbol=symbol)
        trades = selectors.trade_list_recent(
            instrument=instrument, limit=query.validated_data["limit"]
        )
        return Response({"symbol": instrument.symbol, "results": trades})


class TickerView(PublicView):
    @extend_schema(
        tags=["market data"],
        responses={200: s.TickerSerializer, **error_responses(404)},
        summary="24h rolling ticker, the session phase and the indicative price",
        description=(
            "The window is the 1440 one-minute candles ending with the current "
            "minute (window_start is that first minute's open time). open/high/low "
            "are null when nothing traded in the window. `session`: the phase, "
            "the next one and when it is due (`continuous` and nulls for an "
            "instrument without a calendar). `indicative`: during a call, the "
            "price and quantity an uncross would have now (null outside a call "
            "or when nothing would trade); the market stream sends both as they "
            "change (`phase`, `indicative`)."
        ),
    )
    def get(self, request, symbol: str):
        return Response(selectors.ticker_get(instrument=instrument_get(symbol=symbol)))


class CandleListView(PublicView):
    @extend_schema(
        tags=["market data"],
        parameters=[s.CandlesQuerySerializer],
        responses={200: s.CandleListSerializer, **error_responses(400, 404)},
        summary="OHLCV candles, oldest first",
        description=(
            "Intervals are aligned to UTC (1w opens Monday 00:00 UTC). Intervals "
            "without trades are omitted (no candle). `start`/`end`: unix seconds "
            "or ISO 8601; with `start`, the first `limit` candles from it, else "
            "the latest `limit` before `end` (or now)."
        ),
    )
    def get(self, request, symbol: str):
        query = s.CandlesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        instrument = instrument_get(symbol=symbol)
        candles = selectors.candle_list(
            instrument=instrument,
            interval=data["interval"],
            start=data.get("start"),
            end=data.get("end"),
            limit=data["limit"],
        )
        return Response(
            {
                "symbol": instrument.symbol,
                "interval": data["interval"],
                "results": candles,
            }
        )


class EventListView(APIView):
    # an API key may replay its user's stream events as it may open the stream
    authentication_classes = [
        ApiKeyAuthentication,
        JWTAuthentication,
        SessionAuthentication,
    ]
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["market data"],
        parameters=[s.EventsQuerySerializer],
        responses={200: s.EventListSerializer, **error_responses(400, 401)},
        summary="My stream events after since_id (replay after a disconnect)",
        description=(
            "Oldest first. Page with since_id=last_id while has_more. Events are "
            "kept MARKETDATA_EVENT_RETENTION_HOURS; older state: use the orders "
            "and balances endpoints."
        ),
    )
    def get(self, request):
        query = s.EventsQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        since_id = query.validated_data["since_id"]
        events, more = selectors.user_event_list(
            user_id=request.user.pk,
            since_id=since_id,
            limit=query.validated_data["limit"],
        )
        last_id = events[-1]["event_id"] if events else since_id
        return Response({"results": events, "has_more": more, "last_id": last_id})
