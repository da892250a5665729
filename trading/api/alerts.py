"""Price alert endpoints (/api/v1/price-alerts): thin; every write goes through
trading.services.alerts. Prices are decimal strings in the quote asset, on the
instrument's tick. The rules are in docs/alerts.md."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi import error_responses
from config.pagination import NewestFirstCursorPagination
from trading import services
from trading.models import PriceAlert
from trading.selectors import instrument_get, price_alert_get, price_alert_list
from trading.services.alerts import (
    MAX_ACTIVE_PER_USER,
    MAX_COOLDOWN_SECONDS,
    MIN_COOLDOWN_SECONDS,
)
from trading.units import ticks_to_price
from wallet.api.serializers import DecimalStringField

TAGS = ["price alerts"]

_RULES = (
    "`above` fires on the first trade at or above `price`, `below` on the first "
    "trade at or below it (a trade exactly at the price fires both). One-shot "
    "alerts fire once and become inactive; repeating ones stay active and rest "
    f"`cooldown_seconds` ({MIN_COOLDOWN_SECONDS} to {MAX_COOLDOWN_SECONDS}, "
    f"{MIN_COOLDOWN_SECONDS} when omitted) after each firing. At most "
    f"{MAX_ACTIVE_PER_USER} active alerts per user."
)


class PriceAlertOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    symbol = serializers.CharField(source="instrument.symbol")
    condition = serializers.ChoiceField(choices=PriceAlert.Condition.choices)
    price = serializers.SerializerMethodField()
    repeating = serializers.BooleanField()
    cooldown_seconds = serializers.IntegerField()
    active = serializers.BooleanField()
    cooldown_until = serializers.DateTimeField(allow_null=True)
    triggered_count = serializers.IntegerField()
    last_triggered_at = serializers.DateTimeField(allow_null=True)
    last_trade_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_price(self, alert: PriceAlert) -> str:
        return ticks_to_price(alert.instrument, alert.price_ticks)


class PriceAlertCreateInputSerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32)
    condition = serializers.ChoiceField(choices=PriceAlert.Condition.choices)
    price = DecimalStringField()
    repeating = serializers.BooleanField(default=False)
    cooldown_seconds = serializers.IntegerField(
        required=False, allow_null=True, min_value=0
    )


class PriceAlertUpdateInputSerializer(serializers.Serializer):
    condition = serializers.ChoiceField(
        choices=PriceAlert.Condition.choices, required=False
    )
    price = DecimalStringField(required=False)
    repeating = serializers.BooleanField(required=False)
    cooldown_seconds = serializers.IntegerField(
        required=False, allow_null=True, min_value=0
    )
    active = serializers.BooleanField(required=False)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: ["Not a field of a price alert."] for name in unknown}
            )
        if not attrs:
            raise serializers.ValidationError(
                {"price": ["Send at least one field to change."]}
            )
        return attrs


class PriceAlertListQuerySerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32, required=False)


class PriceAlertListCreateView(APIView):
    pagination_class = NewestFirstCursorPagination

    @extend_schema(
        tags=TAGS,
        parameters=[PriceAlertListQuerySerializer],
        responses={
            200: PriceAlertOutputSerializer(many=True),
            **error_responses(400, 401, 404),
        },
        summary="My price alerts (newest first, cursor pagination)",
        description="`symbol` keeps one instrument's (404 `unknown_symbol`).",
    )
    def get(self, request):
        query = PriceAlertListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        symbol = query.validated_data.get("symbol")
        alerts = price_alert_list(
            user=request.user,
            instrument=instrument_get(symbol=symbol) if symbol else None,
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(alerts, request, view=self)
        return paginator.get_paginated_response(
            PriceAlertOutputSerializer(page, many=True).data
        )

    @extend_schema(
        tags=TAGS,
        request=PriceAlertCreateInputSerializer,
        responses={
            201: PriceAlertOutputSerializer,
            **error_responses(400, 401, 404, 409),
        },
        summary="Set a price alert",
        description=(
            f"{_RULES} Errors: `invalid_tick` / `invalid_amount` (400, field "
            "`price`), `invalid` (400, field `condition`), `invalid_price_alert` "
            "(400, field `cooldown_seconds`), `unknown_symbol` (404, field "
            "`symbol`), `too_many_price_alerts` (409)."
        ),
    )
    def post(self, request):
        data = PriceAlertCreateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        alert = services.price_alert_create(
            user=request.user,
            instrument=instrument_get(symbol=values["symbol"]),
            condition=values["condition"],
            price=values["price"],
            repeating=values["repeating"],
            cooldown_seconds=values.get("cooldown_seconds"),
        )
        return Response(
            PriceAlertOutputSerializer(alert).data, status=status.HTTP_201_CREATED
        )


class PriceAlertDetailView(APIView):
    @extend_schema(
        tags=TAGS,
        responses={200: PriceAlertOutputSerializer, **error_responses(401, 404)},
        summary="One of my price alerts",
        description="Another user's alert is a 404 `price_alert_not_found`.",
    )
    def get(self, request, alert_id: int):
        alert = price_alert_get(user=request.user, alert_id=alert_id)
        return Response(PriceAlertOutputSerializer(alert).data)

    @extend_schema(
        tags=TAGS,
        request=PriceAlertUpdateInputSerializer,
        responses={
            200: PriceAlertOutputSerializer,
            **error_responses(400, 401, 404, 409),
        },
        summary="Change a price alert (pause, re-arm, new price ...)",
        description=(
            f"{_RULES} `active: true` re-arms a fired one-shot alert (it counts "
            "against the limit again); any change ends a repeating alert's rest. "
            "`cooldown_seconds: null` asks for the least."
        ),
    )
    def patch(self, request, alert_id: int):
        data = PriceAlertUpdateInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        alert = services.price_alert_update(
            user=request.user, alert_id=alert_id, **data.validated_data
        )
        return Response(PriceAlertOutputSerializer(alert).data)

    @extend_schema(
        tags=TAGS,
        responses={204: None, **error_responses(401, 404)},
        summary="Delete a price alert",
    )
    def delete(self, request, alert_id: int):
        services.price_alert_delete(user=request.user, alert_id=alert_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
