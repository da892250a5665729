"""Order API shapes. Prices and quantities are decimal strings both ways."""

from __future__ import annotations

import re
from collections.abc import Mapping

from django.conf import settings
from rest_framework import serializers

from config.openapi import ErrorDetailSerializer
from trading.fees import order_fee_asset
from trading.models import Order
from trading.units import lots_to_quantity, quote_str, ticks_to_price
from wallet.api.serializers import DecimalStringField
from wallet.money import format_units


class OrderPlaceInputSerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=Order.Side.choices)
    type = serializers.ChoiceField(choices=Order.Type.choices, default="limit")
    time_in_force = serializers.ChoiceField(
        choices=Order.TimeInForce.choices,
        default="gtc",
        help_text="gtc, ioc, fok, gtd (with expire_at) or day: a day order "
        "expires when the session closes at the end of the trading day (only on "
        "an instrument with a trading calendar; limit and stop orders).",
    )
    post_only = serializers.BooleanField(default=False)
    price = DecimalStringField(required=False, allow_null=True)
    stop_price = DecimalStringField(required=False, allow_null=True)
    quantity = DecimalStringField(required=False, allow_null=True)
    quote_quantity = DecimalStringField(required=False, allow_null=True)
    client_order_id = serializers.RegexField(
        r"^[A-Za-z0-9_\-:.]{1,64}$",
        required=False,
        allow_null=True,
        error_messages={"invalid": "1-64 of letters, digits and _-:."},
    )
    stp = serializers.ChoiceField(choices=Order.STP.choices, default="expire_taker")
    expire_at = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=64,
        help_text="time_in_force gtd only: ISO 8601 with an offset, 1 s to 365 "
        "days ahead; the order expires at this second.",
    )
    trailing_amount = DecimalStringField(
        required=False,
        allow_null=True,
        help_text="Stop orders: trail the last price by this amount (a price "
        "step multiple) instead of a fixed stop_price.",
    )
    trailing_bps = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="Stop orders: trail the last price by 1..9999 basis points.",
    )


# --- the order body without DRF's machinery -------------------------------------

_PLACE_CHOICES = {
    name: (frozenset(value for value, _ in field.choices.items()), field.default)
    for name, field in OrderPlaceInputSerializer().fields.items()
    if isinstance(field, serializers.ChoiceField)
}
_PLACE_AMOUNTS = (
    "price",
    "stop_price",
    "quantity",
    "quote_quantity",
    "trailing_amount",
)
_CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9_\-:.]{1,64}")
# what DRF's CharField refuses in any text: NUL and surrogate code points
_REFUSED_CHARACTERS = re.compile("[\x00\ud800-\udfff]")


def _plain_text(value, *, max_length: int, strip: bool) -> str | None:
    """`value` as DRF's CharField would give it, or None where it might refuse
    it or convert it (not a str, blank, too long, a character it refuses)."""
    if type(value) is not str or _REFUSED_CHARACTERS.search(value):
        return None
    text = value.strip() if strip else value
    if not text.strip() or len(text) > max_length:
        return None
    return text


def order_place_input(data) -> dict:
    """The validated body of an order placement: what
    `OrderPlaceInputSerializer(data=data)` gives, checked in plain Python for
    the bodies clients send (a JSON object of strings, booleans, an integer).
    Anything else, every invalid body included, goes through the serializer
    itself, so a refusal is DRF's `ValidationError` with the very same details
    (the error body's shape and codes cannot drift), and a value DRF would
    coerce (a number for a string, "true" for a boolean) is coerced by DRF.
    Building the serializer cost more than the rest of the view: DRF
    deep-copies its fields for each instance. The serializer stays the OpenAPI
    description, and a test holds both paths to the same output."""
    fast = order_place_plain(data)
    if fast is not None:
        return fast
    serializer = OrderPlaceInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def order_place_plain(data) -> dict | None:
    """`order_place_input` for a JSON object every value of which is plainly
    valid, else None (the serializer decides)."""
    if type(data) is not dict:
        return None
    symbol = _plain_text(data.get("symbol"), max_length=32, strip=True)
    if symbol is None:
        return None
    out: dict = {"symbol": symbol}
    for name, (choices, default) in _PLACE_CHOICES.items():
        value = data.get(name, default)
        if type(value) is not str or value not in choices:
            return None
        out[name] = value
    post_only = data.get("post_only", False)
    if type(post_only) is not bool:
        return None
    out["post_only"] = post_only
    for name in _PLACE_AMOUNTS:
        if name in data:
            value = data[name]
            if value is not None:
                value = _plain_text(value, max_length=64, strip=False)
                if value is None:
                    return None
            out[name] = value
    if "client_order_id" in data:
        value = data["client_order_id"]
        if value is not None and not (
            type(value) is str and _CLIENT_ORDER_ID.fullmatch(value)
        ):
            return None
        out["client_order_id"] = value
    if "expire_at" in data:
        value = data["expire_at"]
        if value is not None:
            value = _plain_text(value, max_length=64, strip=True)
            if value is None:
                return None
        out["expire_at"] = value
    if "trailing_bps" in data:
        value = data["trailing_bps"]
        # DRF reads an integer through its text: keep to what it reads back
        if value is not None and not (type(value) is int and abs(value) < 2**63):
            return None
        out["trailing_bps"] = value
    return out


class OrderOcoInputSerializer(serializers.Serializer):
    """A one-cancels-the-other pair: a limit leg at `price` and a stop leg at
    `stop_price` (or trailing), both `side` and `quantity`."""

    symbol = serializers.CharField(max_length=32)
    side = serializers.ChoiceField(choices=Order.Side.choices)
    quantity = DecimalStringField()
    price = DecimalStringField(help_text="The limit leg's price.")
    stop_price = DecimalStringField(required=False, allow_null=True)
    trailing_amount = DecimalStringField(required=False, allow_null=True)
    trailing_bps = serializers.IntegerField(required=False, allow_null=True)
    stop_limit_price = DecimalStringField(
        required=False,
        allow_null=True,
        help_text="The stop leg is a stop limit at this price; without it, a "
        "stop market.",
    )
    time_in_force = serializers.ChoiceField(
        choices=[("gtc", "Good till cancelled"), ("gtd", "Good till date")],
        default="gtc",
    )
    expire_at = serializers.CharField(required=False, allow_null=True, max_length=64)
    post_only = serializers.BooleanField(default=False)
    client_order_id = serializers.RegexField(
        r"^[A-Za-z0-9_\-:.]{1,64}$",
        required=False,
        allow_null=True,
        error_messages={"invalid": "1-64 of letters, digits and _-:."},
    )


class OrderAmendInputSerializer(serializers.Serializer):
    price = DecimalStringField(required=False)
    quantity = DecimalStringField(
        required=False, help_text="New total quantity, filled part included."
    )

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError(
                {name: ["Only price and quantity can be amended."] for name in unknown}
            )
        if not attrs:
            raise serializers.ValidationError(
                {"price": ["Send a new price and/or quantity."]}
            )
        return attrs


class OrderListQuerySerializer(serializers.Serializer):
    symbol = serializers.CharField(max_length=32, required=False)
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    open = serializers.BooleanField(required=False, allow_null=True, default=None)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


def average_price(order: Order) -> str | None:
    """Quote paid per whole base unit over the fills, at the quote's precision
    (rounded half up: a display figure, no money moves by it)."""
    if not order.filled_lots:
        return None
    instrument = order.instrument
    base_units = order.filled_lots * instrument.lot_size
    numerator = order.filled_quote * 10**instrument.base.decimals
    units = (2 * numerator + base_units) // (2 * base_units)
    return quote_str(instrument, units)


class OrderOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    client_order_id = serializers.CharField(allow_null=True)
    symbol = serializers.CharField(source="instrument.symbol")
    side = serializers.CharField()
    type = serializers.CharField()
    time_in_force = serializers.CharField()
    post_only = serializers.BooleanField()
    stp = serializers.CharField()
    price = serializers.SerializerMethodField()
    stop_price = serializers.SerializerMethodField()
    quantity = serializers.SerializerMethodField()
    quote_quantity = serializers.SerializerMethodField()
    filled_quantity = serializers.SerializerMethodField()
    remaining_quantity = serializers.SerializerMethodField()
    filled_quote = serializers.SerializerMethodField()
    average_price = serializers.SerializerMethodField()
    fees_paid = serializers.SerializerMethodField()
    fee_asset = serializers.SerializerMethodField()
    status = serializers.CharField()
    reason = serializers.CharField()
    stop_triggered = serializers.BooleanField()
    expire_at = serializers.DateTimeField(allow_null=True)
    trailing_amount = serializers.SerializerMethodField()
    trailing_bps = serializers.IntegerField(allow_null=True)
    oco_partner_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_price(self, order: Order) -> str | None:
        return ticks_to_price(order.instrument, order.price_ticks)

    def get_stop_price(self, order: Order) -> str | None:
        return ticks_to_price(order.instrument, order.stop_price_ticks)

    def get_trailing_amount(self, order: Order) -> str | None:
        return ticks_to_price(order.instrument, order.trail_amount_ticks)

    def get_quantity(self, order: Order) -> str | None:
        return lots_to_quantity(order.instrument, order.quantity_lots)

    def get_quote_quantity(self, order: Order) -> str | None:
        return quote_str(order.instrument, order.quote_quantity)

    def get_filled_quantity(self, order: Order) -> str:
        return lots_to_quantity(order.instrument, order.filled_lots)

    def get_remaining_quantity(self, order: Order) -> str:
        return lots_to_quantity(order.instrument, order.open_lots)

    def get_filled_quote(self, order: Order) -> str:
        return quote_str(order.instrument, order.filled_quote)

    def get_average_price(self, order: Order) -> str | None:
        return average_price(order)

    def get_fees_paid(self, order: Order) -> str:
        asset = order_fee_asset(order, order.instrument)
        return format_units(order.fees_paid, asset.decimals)

    def get_fee_asset(self, order: Order) -> str:
        return order_fee_asset(order, order.instrument).code

    def to_representation(self, order: Order) -> dict:
        """The declared fields, built directly. DRF's generic path deep-copies
        every declared field per serializer and walks them one by one; this runs
        for every order placed, cancelled and streamed. The fields above stay the
        schema, and a test holds both paths to the same output."""
        instrument = order.instrument
        return {
            "id": order.pk,
            "client_order_id": order.client_order_id,
            "symbol": instrument.symbol,
            "side": _text(order.side),
            "type": _text(order.type),
            "time_in_force": _text(order.time_in_force),
            "post_only": order.post_only,
            "stp": _text(order.stp),
            "price": self.get_price(order),
            "stop_price": self.get_stop_price(order),
            "quantity": self.get_quantity(order),
            "quote_quantity": self.get_quote_quantity(order),
            "filled_quantity": self.get_filled_quantity(order),
            "remaining_quantity": self.get_remaining_quantity(order),
            "filled_quote": self.get_filled_quote(order),
            "average_price": self.get_average_price(order),
            "fees_paid": self.get_fees_paid(order),
            "fee_asset": self.get_fee_asset(order),
            "status": _text(order.status),
            "reason": _text(order.reason),
            "stop_triggered": order.stop_triggered,
            "expire_at": (
                None
                if order.expire_at is None
                else _DATETIME.to_representation(order.expire_at)
            ),
            "trailing_amount": self.get_trailing_amount(order),
            "trailing_bps": order.trail_bps,
            "oco_partner_id": order.oco_partner_id,
            "created_at": _DATETIME.to_representation(order.created_at),
            "updated_at": _DATETIME.to_representation(order.updated_at),
        }


_DATETIME = serializers.DateTimeField()


def _text(value) -> str | None:
    return None if value is None else str(value)


class OrderOcoOutputSerializer(serializers.Serializer):
    oco_id = serializers.IntegerField(help_text="The limit leg's id.")
    orders = OrderOutputSerializer(many=True, help_text="[limit leg, stop leg]")


class CancelAllOutputSerializer(serializers.Serializer):
    cancel_requested = serializers.ListField(child=serializers.IntegerField())


# --- batches ----------------------------------------------------------------------


def _batch_size_error(items) -> str | None:
    maximum = settings.TRADING_BATCH_MAX_ORDERS
    if not isinstance(items, list):
        return "Expected a list."
    if not items or len(items) > maximum:
        return f"Send 1 to {maximum} items, not {len(items)}."
    return None


class OrderBatchInputSerializer(serializers.Serializer):
    """`{"orders": [...]}`: 1 to TRADING_BATCH_MAX_ORDERS order objects. Only the
    envelope is validated here; each item is validated on its own
    (`OrderPlaceInputSerializer`, in the view) so that a bad item refuses only
    itself. The declared field is the schema."""

    orders = OrderPlaceInputSerializer(many=True)

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"orders": ['Send an object: {"orders": [...]}.']}
            )
        if "orders" not in data:
            raise serializers.ValidationError({"orders": ["This field is required."]})
        if error := _batch_size_error(data["orders"]):
            raise serializers.ValidationError({"orders": [error]})
        return {"orders": data["orders"]}


class OrderBatchResultSerializer(serializers.Serializer):
    status = serializers.IntegerField(
        help_text="201 created, 200 replayed (client_order_id), else the 4xx of "
        "the item's error."
    )
    order = OrderOutputSerializer(required=False)
    error = ErrorDetailSerializer(required=False)


class OrderBatchOutputSerializer(serializers.Serializer):
    results = OrderBatchResultSerializer(many=True, help_text="In request order.")


class OrderBatchCancelInputSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        help_text="1 to TRADING_BATCH_MAX_ORDERS order ids.",
    )

    def validate_ids(self, ids: list[int]) -> list[int]:
        if error := _batch_size_error(ids):
            raise serializers.ValidationError(error)
        return ids

    def to_internal_value(self, data):
        if not isinstance(data, Mapping):
            raise serializers.ValidationError(
                {"ids": ['Send an object: {"ids": [...]}.']}
            )
        return super().to_internal_value(data)


class OrderBatchCancelResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.IntegerField(
        help_text="202 cancel requested, 200 already applied (embedded mode), "
        "else the 4xx of the error."
    )
    order = OrderOutputSerializer(required=False)
    error = ErrorDetailSerializer(required=False)


class OrderBatchCancelOutputSerializer(serializers.Serializer):
    results = OrderBatchCancelResultSerializer(many=True, help_text="In request order.")


class PreviewEstimateSerializer(serializers.Serializer):
    basis = serializers.CharField(
        help_text="`book`: walked the current book; `stop`: at the stop (stop "
        "market) or limit (stop limit) price, the book it meets being unknown."
    )
    quantity = serializers.CharField(help_text="Expected to fill at once.")
    average_price = serializers.CharField(allow_null=True)
    value = serializers.CharField(help_text="Quote value of that fill.")
    fee = serializers.CharField(
        help_text="Taker rate on the fill, maker rate on what rests."
    )
    fee_asset = serializers.CharField()
    resting_quantity = serializers.CharField(
        help_text="Left on the book (GTC, GTD, DAY)."
    )
    unfilled_quantity = serializers.CharField(
        help_text="Not filled and expiring (market, IOC, FOK, book too thin)."
    )


class PreviewHoldSerializer(serializers.Serializer):
    asset = serializers.CharField()
    amount = serializers.CharField(help_text="Exactly what placing would hold now.")
    available = serializers.CharField(help_text="Available before the hold.")


class OrderPreviewOutputSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    side = serializers.CharField()
    type = serializers.CharField()
    time_in_force = serializers.CharField()
    price = serializers.CharField(allow_null=True)
    stop_price = serializers.CharField(allow_null=True)
    quantity = serializers.CharField(allow_null=True)
    quote_quantity = serializers.CharField(allow_null=True)
    expire_at = serializers.DateTimeField(allow_null=True)
    trailing_amount = serializers.CharField(allow_null=True)
    trailing_bps = serializers.IntegerField(allow_null=True)
    maker_fee_bps = serializers.IntegerField()
    taker_fee_bps = serializers.IntegerField()
    estimate = PreviewEstimateSerializer()
    hold = PreviewHoldSerializer()
    review_required = serializers.BooleanField(
        help_text="The trade screen's rule: market and stop orders always; a "
        "limit order holding TRADING_REVIEW_LARGE_PERCENT of the balance or more, "
        "unless the user skips the review for limit orders."
    )

    @staticmethod
    def from_preview(preview) -> dict:
        order, instrument, estimate = (
            preview.order,
            preview.order.instrument,
            preview.estimate,
        )
        base_units = estimate.filled_lots * instrument.lot_size
        average = None
        if base_units:
            average = format_units(
                estimate.notional * 10**instrument.base.decimals // base_units,
                instrument.quote.decimals,
            )
        asset = preview.hold.asset
        return {
            "symbol": instrument.symbol,
            "side": order.side,
            "type": order.type,
            "time_in_force": order.time_in_force,
            "price": ticks_to_price(instrument, order.price_ticks),
            "stop_price": ticks_to_price(instrument, order.stop_price_ticks),
            "quantity": lots_to_quantity(instrument, order.quantity_lots),
            "quote_quantity": quote_str(instrument, order.quote_quantity),
            "expire_at": (
                None
                if order.expire_at is None
                else _DATETIME.to_representation(order.expire_at)
            ),
            "trailing_amount": ticks_to_price(instrument, order.trail_amount_ticks),
            "trailing_bps": order.trail_bps,
            "maker_fee_bps": order.maker_fee_bps,
            "taker_fee_bps": order.taker_fee_bps,
            "estimate": {
                "basis": estimate.basis,
                "quantity": lots_to_quantity(instrument, estimate.filled_lots),
                "average_price": average,
                "value": quote_str(instrument, estimate.notional),
                "fee": format_units(estimate.fee, estimate.fee_asset.decimals),
                "fee_asset": estimate.fee_asset.code,
                "resting_quantity": lots_to_quantity(instrument, estimate.resting_lots),
                "unfilled_quantity": lots_to_quantity(
                    instrument, estimate.unfilled_lots
                ),
            },
            "hold": {
                "asset": asset.code,
                "amount": format_units(preview.hold.amount, asset.decimals),
                "available": format_units(preview.available, asset.decimals),
            },
            "review_required": preview.review_required,
        }


class TradingPreferenceSerializer(serializers.Serializer):
    skip_review_for_limit_orders = serializers.BooleanField(
        help_text="Limit orders are placed without the review step (market and "
        "stop orders are always reviewed)."
    )
