"""Reading endpoints: my fills and my portfolio. Thin: selectors do the work."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi import error_responses
from config.pagination import NewestFirstCursorPagination
from trading.models import Fill, Order
from trading.portfolio import portfolio_as_dict
from trading.selectors import fill_list_filtered, portfolio_get
from trading.units import lots_to_quantity, quote_str, ticks_to_price
from wallet.money import format_units
from wallet.services import asset_get

# --- Fills --------------------------------------------------------------------------


class FillListQuerySerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32, required=False)
    order_id = serializers.IntegerField(min_value=1, required=False)
    side = serializers.ChoiceField(choices=Order.Side.choices, required=False)
    created_after = serializers.DateTimeField(
        required=False, help_text="Inclusive (ISO 8601)."
    )
    created_before = serializers.DateTimeField(
        required=False, help_text="Exclusive (ISO 8601)."
    )


class FillOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    trade_id = serializers.IntegerField()
    seq = serializers.IntegerField(
        source="trade.seq", help_text="The instrument's sequence after the trade."
    )
    order_id = serializers.IntegerField()
    symbol = serializers.CharField(source="instrument.symbol")
    side = serializers.CharField()
    liquidity = serializers.CharField(
        help_text="maker or taker; auction for a fill of a call auction's uncross "
        "(neither side made or took; the fee is at the maker rate)."
    )
    price = serializers.SerializerMethodField()
    quantity = serializers.SerializerMethodField()
    quote_amount = serializers.SerializerMethodField()
    fee = serializers.SerializerMethodField()
    fee_asset = serializers.CharField(source="fee_asset.code")
    created_at = serializers.DateTimeField()

    def get_price(self, fill: Fill) -> str:
        return ticks_to_price(fill.instrument, fill.price_ticks)

    def get_quantity(self, fill: Fill) -> str:
        return lots_to_quantity(fill.instrument, fill.quantity_lots)

    def get_quote_amount(self, fill: Fill) -> str:
        return quote_str(fill.instrument, fill.quote_amount)

    def get_fee(self, fill: Fill) -> str:
        return format_units(fill.fee, fill.fee_asset.decimals)


class FillCursorPagination(NewestFirstCursorPagination):
    """Newest first; fills of one matching batch share a timestamp, the id
    breaks the tie."""


class FillListView(APIView):
    pagination_class = FillCursorPagination

    @extend_schema(
        tags=["fills"],
        parameters=[FillListQuerySerializer],
        responses={200: FillOutputSerializer(many=True), **error_responses(400, 401)},
        summary="My fills (newest first, cursor pagination)",
        description=(
            "One row per side of a trade the user was in. Amounts are decimal "
            "strings; the fee is in `fee_asset`: the quote asset, but the base "
            "for a buy on an instrument whose fee_policy is `received`."
        ),
    )
    def get(self, request):
        query = FillListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        fills = fill_list_filtered(user=request.user, **query.validated_data)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(fills, request, view=self)
        return paginator.get_paginated_response(
            FillOutputSerializer(page, many=True).data
        )


# --- Portfolio ----------------------------------------------------------------------


class PortfolioQuerySerializer(serializers.Serializer):
    quote = serializers.CharField(
        max_length=16,
        default="USD",
        help_text="Valuation asset for prices, values and totals.",
    )


class PositionOutputSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    quote = serializers.CharField(help_text="The asset of the money figures here.")
    quantity = serializers.CharField(help_text="Base units whose cost is known.")
    average_cost = serializers.CharField(allow_null=True)
    cost_basis = serializers.CharField()
    last_price = serializers.CharField(allow_null=True)
    realized_pnl = serializers.CharField()
    unrealized_pnl = serializers.CharField(allow_null=True)
    untracked_sold = serializers.CharField(
        help_text="Sold beyond the known quantity (cost unknown, no P&L)."
    )


class AssetRowOutputSerializer(serializers.Serializer):
    asset = serializers.CharField()
    available = serializers.CharField()
    held = serializers.CharField()
    quantity = serializers.CharField(help_text="available + held")
    last_price = serializers.CharField(
        allow_null=True, help_text="One whole unit in the valuation asset."
    )
    price_source = serializers.CharField(
        allow_null=True, help_text='"1:1", a symbol, or "1/<symbol>" (inverse).'
    )
    market_value = serializers.CharField(allow_null=True)
    average_cost = serializers.CharField(
        allow_null=True,
        help_text="Of the position against the valuation asset; else null.",
    )
    realized_pnl = serializers.CharField(allow_null=True)
    unrealized_pnl = serializers.CharField(allow_null=True)
    positions = PositionOutputSerializer(many=True)


class PortfolioTotalsOutputSerializer(serializers.Serializer):
    market_value = serializers.CharField()
    realized_pnl = serializers.CharField()
    unrealized_pnl = serializers.CharField()
    not_priced = serializers.ListField(
        child=serializers.CharField(), help_text="Assets left out of the totals."
    )


class PortfolioOutputSerializer(serializers.Serializer):
    quote = serializers.CharField()
    assets = AssetRowOutputSerializer(many=True)
    totals = PortfolioTotalsOutputSerializer()


class PortfolioView(APIView):
    @extend_schema(
        tags=["portfolio"],
        parameters=[PortfolioQuerySerializer],
        responses={200: PortfolioOutputSerializer, **error_responses(400, 401)},
        summary="My holdings, average cost and P&L",
        description=(
            "Per asset held or traded: wallet quantity, last price and market "
            "value in `quote`, and average-cost P&L from the user's fills (one "
            "position per instrument, in that instrument's quote asset; the row's "
            "P&L is converted into `quote`). Totals are in `quote`; assets with no "
            "instrument linking them to `quote` are listed in `not_priced`. "
            "400 `unknown_asset` for an unknown quote. See docs/trading.md."
        ),
    )
    def get(self, request):
        query = PortfolioQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        quote = asset_get(
            code=query.validated_data["quote"], field="quote", active=False
        )
        portfolio, decimals = portfolio_get(user=request.user, quote=quote)
        return Response(
            PortfolioOutputSerializer(
                portfolio_as_dict(portfolio, decimals=decimals)
            ).data
        )
