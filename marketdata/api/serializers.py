"""Market data API shapes (see docs/marketdata.md, "REST"). Prices and
quantities are decimal strings; candle times unix seconds; other times ISO 8601."""

from __future__ import annotations

from datetime import UTC, datetime

from django.conf import settings
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from marketdata.candles import INTERVALS
from trading.models import Instrument


@extend_schema_field(OpenApiTypes.STR)
class TimeField(serializers.Field):
    """Unix seconds (int) or an ISO 8601 datetime (UTC if no offset)."""

    default_error_messages = {"invalid": "Unix seconds or an ISO 8601 datetime."}

    def to_internal_value(self, data) -> datetime:
        text = str(data).strip()
        try:
            if text.lstrip("-").isdigit():
                return datetime.fromtimestamp(int(text), tz=UTC)
            moment = parse_datetime(text)
        except (ValueError, OverflowError, OSError):
            moment = None
        if moment is None:
            self.fail("invalid")
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def to_representation(self, value):
        return int(value.timestamp())


def _depth_limit():
    return settings.MARKETDATA_DEPTH_LEVELS


class DepthQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, default=50)

    def validate_limit(self, value: int) -> int:
        if value > _depth_limit():
            raise serializers.ValidationError(f"At most {_depth_limit()}.")
        return value


class TradesQuerySerializer(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=500, default=50)


class CandlesQuerySerializer(serializers.Serializer):
    interval = serializers.ChoiceField(choices=INTERVALS)
    start = TimeField(required=False)
    end = TimeField(required=False)
    limit = serializers.IntegerField(min_value=1, max_value=1000, default=500)

    def validate(self, attrs):
        if "start" in attrs and "end" in attrs and attrs["start"] >= attrs["end"]:
            raise serializers.ValidationError({"end": ["Must be after start."]})
        return attrs


class EventsQuerySerializer(serializers.Serializer):
    since_id = serializers.IntegerField(min_value=0, default=0)
    limit = serializers.IntegerField(min_value=1, max_value=500, default=100)


class MarketSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    base = serializers.CharField()
    quote = serializers.CharField()
    status = serializers.CharField()
    tick_size = serializers.CharField()
    lot_size = serializers.CharField()
    min_quantity = serializers.CharField()
    min_notional = serializers.CharField()
    maker_fee_bps = serializers.IntegerField()
    taker_fee_bps = serializers.IntegerField()
    fee_policy = serializers.ChoiceField(
        choices=Instrument.FeePolicy.values,
        help_text="Which asset each side pays its fee in: `quote` (both sides "
        "pay in the quote asset, on top for a buyer) or `received` (each side "
        "pays in what it receives: a buyer in the base).",
    )
    price_band_percent = serializers.IntegerField()
    last_price = serializers.CharField(allow_null=True)
    change_percent_24h = serializers.CharField(allow_null=True)


class MarketListSerializer(serializers.Serializer):
    results = MarketSerializer(many=True)


class DepthSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    sequence = serializers.IntegerField()
    bids = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField()),
        help_text="[[price, quantity], ...], best first",
    )
    asks = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField())
    )


class TradeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    seq = serializers.IntegerField()
    price = serializers.CharField()
    quantity = serializers.CharField()
    taker_side = serializers.CharField(
        help_text="buy or sell; for an auction trade always buy (no side took)"
    )
    auction = serializers.BooleanField(
        help_text="A call auction's uncross: neither side was maker or taker."
    )
    time = serializers.CharField(help_text="ISO 8601 UTC")


class TradeListSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    results = TradeSerializer(many=True)


SESSION_PHASES = (
    "pre_open",
    "opening_auction",
    "continuous",
    "volatility_auction",
    "pre_close",
    "closing_auction",
    "closed",
)


class SessionSerializer(serializers.Serializer):
    phase = serializers.ChoiceField(
        choices=SESSION_PHASES,
        help_text="The session's phase; `continuous` for an instrument without "
        "a calendar. pre_open, the auctions and pre_close are calls: orders "
        "collect without matching.",
    )
    next_phase = serializers.ChoiceField(
        choices=SESSION_PHASES,
        allow_null=True,
        help_text="The next phase; null without a schedule or while halted.",
    )
    next_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When it is due (UTC; an auction's drawn random end "
        "included); null without a schedule or while halted.",
    )
    halted = serializers.BooleanField(
        help_text="An operator froze the phase: nothing changes until resumed."
    )


class IndicativeSerializer(serializers.Serializer):
    price = serializers.CharField(help_text="The price an uncross would have now.")
    quantity = serializers.CharField(help_text="What would trade at it.")
    surplus = serializers.CharField(help_text="What would be left unexecuted.")
    surplus_side = serializers.ChoiceField(
        choices=("buy", "sell"), allow_null=True, help_text="The side left over."
    )


class TickerSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    sequence = serializers.IntegerField()
    last = serializers.CharField(allow_null=True)
    best_bid = serializers.CharField(allow_null=True)
    best_ask = serializers.CharField(allow_null=True)
    open = serializers.CharField(allow_null=True)
    high = serializers.CharField(allow_null=True)
    low = serializers.CharField(allow_null=True)
    volume = serializers.CharField()
    quote_volume = serializers.CharField()
    change = serializers.CharField(allow_null=True)
    change_percent = serializers.CharField(allow_null=True)
    window_start = serializers.CharField()
    window_end = serializers.CharField()
    session = SessionSerializer()
    indicative = IndicativeSerializer(
        allow_null=True,
        help_text="During a call: the uncross as it would be now. Null outside "
        "a call or when nothing would trade.",
    )


class CandleSerializer(serializers.Serializer):
    time = serializers.IntegerField(help_text="Open time, unix seconds (UTC)")
    open = serializers.CharField()
    high = serializers.CharField()
    low = serializers.CharField()
    close = serializers.CharField()
    volume = serializers.CharField()
    quote_volume = serializers.CharField()
    trades = serializers.IntegerField()


class CandleListSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    interval = serializers.CharField()
    results = CandleSerializer(many=True)


class EventSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["order", "fill", "balance", "notification"])
    event_id = serializers.IntegerField()


class EventListSerializer(serializers.Serializer):
    results = serializers.ListField(
        child=serializers.DictField(),
        help_text="Events as on /ws/user/: {type, event_id, order|fill|asset...}",
    )
    has_more = serializers.BooleanField()
    last_id = serializers.IntegerField()
