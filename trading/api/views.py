"""Order endpoints: thin; every write goes through trading.services."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.errors import (
    ApplicationError,
    error_body,
    http_status,
    validation_error_parts,
)
from config.openapi import error_responses
from config.pagination import CursorPagination
from config.throttling import (
    OrderBatchRateThrottle,
    OrderPairRateThrottle,
    OrderRateThrottle,
)
from kyc.selectors import kyc_require_verified
from trading import services
from trading.api import serializers as s
from trading.models import Order
from trading.selectors import (
    order_get,
    order_get_by_client_id,
    order_list,
    trading_preference_skips_limit_review,
)


class OrderCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


def _fresh_many(orders: list[Order]) -> dict[int, Order]:
    """`_fresh` for a batch's orders, by id (one query in embedded mode)."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return {order.pk: order for order in orders}
    return Order.objects.select_related(
        "instrument__base", "instrument__quote"
    ).in_bulk([order.pk for order in orders])


def _item_error(error: ApplicationError, *, prefix: str | None = None) -> dict:
    """An item's error body; `prefix` (`orders[3]`) names the item in the message,
    joined to the field the message starts with, if any."""
    message = error.message
    if prefix is not None:
        field = message.split(":", 1)[0]
        joiner = "." if field in error.details else ": "
        message = f"{prefix}{joiner}{message}"
    return error_body(error.code, message, error.details)["error"]


def _fresh(order: Order) -> Order:
    """The order as stored now: in embedded mode (eager tasks) the matcher already
    ran; with a real worker the order just written is the current state."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return order
    return Order.objects.select_related("instrument__base", "instrument__quote").get(
        pk=order.pk
    )


class OrderListCreateView(APIView):
    api_key_scope = "trade"  # apikeys: a key needs this scope
    pagination_class = OrderCursorPagination

    def get_throttles(self):
        if self.request.method in ("POST", "DELETE"):
            return [OrderRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        tags=["orders"],
        parameters=[s.OrderListQuerySerializer],
        responses={
            200: s.OrderOutputSerializer(many=True),
            **error_responses(400, 401),
        },
        summary="My orders (newest first, cursor pagination)",
    )
    def get(self, request):
        query = s.OrderListQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        orders = order_list(user=request.user)
        if "symbol" in filters:
            orders = orders.filter(instrument__symbol=filters["symbol"].upper())
        if "status" in filters:
            orders = orders.filter(status=filters["status"])
        if filters.get("open") is True:
            orders = orders.filter(status__in=Order.OPEN_STATUSES)
        elif filters.get("open") is False:
            orders = orders.filter(status__in=Order.FINAL_STATUSES)
        if "created_after" in filters:
            orders = orders.filter(created_at__gte=filters["created_after"])
        if "created_before" in filters:
            orders = orders.filter(created_at__lt=filters["created_before"])
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(orders, request, view=self)
        return paginator.get_paginated_response(
            s.OrderOutputSerializer(page, many=True).data
        )

    @extend_schema(
        tags=["orders"],
        request=s.OrderPlaceInputSerializer,
        responses={
            201: s.OrderOutputSerializer,
            200: s.OrderOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, 422, 429),
        },
        summary="Place an order",
        description=(
            "201 with the new order (in embedded mode already matched). A retry "
            "with the same `client_order_id` and body returns the original order "
            "with 200; a different body is 409 `client_order_id_reused`. "
            "`time_in_force: gtd` needs `expire_at` (ISO 8601 with an offset, 1 s "
            "to 365 days ahead; the order then expires at that second, status "
            "`expired`, reason `gtd`). `time_in_force: day` (limit and stop "
            "orders, on an instrument with a trading calendar) expires when the "
            "session closes at the end of the trading day (status `expired`, "
            "reason `day`); without a calendar it is 400 `day_needs_calendar`. "
            "A stop order takes `stop_price` or one of "
            "`trailing_amount` / `trailing_bps` (1..9999): a trailing stop follows "
            "the last price, `stop_price` in the answer is its current stop. "
            "Errors: "
            "403 `kyc_required`; 404 `unknown_symbol`; 409 `instrument_not_trading`,"
            " `time_in_force_not_in_call` (IOC or FOK while the instrument's book is "
            "in a call phase: docs/sessions.md); 400 `invalid_order`, "
            "`day_needs_calendar`, `invalid_tick`, `invalid_lot`, "
            "`below_min_quantity`, `below_min_notional`, `price_out_of_band`, "
            "`invalid_amount`; 422 `insufficient_funds`, `too_many_open_orders`; "
            "429 `throttled`."
        ),
    )
    def post(self, request):
        data = s.order_place_input(request.data)
        order, created = services.order_place(user=request.user, **data)
        return Response(
            s.OrderOutputSerializer(_fresh(order)).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        tags=["orders"],
        operation_id="orders_cancel_all",
        parameters=[OpenApiParameter("symbol", str, required=False)],
        request=None,
        responses={202: s.CancelAllOutputSerializer, **error_responses(401, 404)},
        summary="Cancel all my open orders (optionally on one symbol)",
    )
    def delete(self, request):
        ids = services.order_cancel_all(
            user=request.user, symbol=request.query_params.get("symbol")
        )
        return Response({"cancel_requested": ids}, status=status.HTTP_202_ACCEPTED)


class OrderDetailView(APIView):
    api_key_scope = "trade"  # apikeys: a key needs this scope

    def get_throttles(self):
        if self.request.method in ("PATCH", "DELETE"):
            return [OrderRateThrottle()]
        return super().get_throttles()

    @extend_schema(
        tags=["orders"],
        responses={200: s.OrderOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request, order_id: int):
        return Response(
            s.OrderOutputSerializer(
                order_get(user=request.user, order_id=order_id)
            ).data
        )

    @extend_schema(
        tags=["orders"],
        request=s.OrderAmendInputSerializer,
        responses={
            200: s.OrderOutputSerializer,
            202: s.OrderOutputSerializer,
            **error_responses(400, 401, 404, 409, 422),
        },
        summary="Amend price and/or quantity",
        description=(
            "`quantity` is the new total. Lowering it keeps time priority; a new "
            "price or a larger quantity re-queues the order. 202 while the matcher "
            "has not applied it yet. 409 `order_not_open` / `order_not_amendable` "
            "(also any OCO leg, and GTD orders); "
            "422 `insufficient_funds` if the bigger hold cannot be reserved."
        ),
    )
    def patch(self, request, order_id: int):
        data = s.OrderAmendInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order = services.order_amend(
            user=request.user, order_id=order_id, **data.validated_data
        )
        order = _fresh(order)
        applied = not order.commands.filter(processed_at__isnull=True).exists()
        return Response(
            s.OrderOutputSerializer(order).data,
            status=status.HTTP_200_OK if applied else status.HTTP_202_ACCEPTED,
        )

    @extend_schema(
        tags=["orders"],
        request=None,
        responses={
            200: s.OrderOutputSerializer,
            202: s.OrderOutputSerializer,
            **error_responses(401, 404, 409),
        },
        summary="Cancel an order",
        description=(
            "202 while the matcher has not applied the cancel; 200 once done. "
            "Cancelling either leg of an OCO pair cancels both (the other with "
            "reason `oco`)."
        ),
    )
    def delete(self, request, order_id: int):
        order = _fresh(services.order_cancel(user=request.user, order_id=order_id))
        return Response(
            s.OrderOutputSerializer(order).data,
            status=status.HTTP_202_ACCEPTED if order.is_open else status.HTTP_200_OK,
        )


class OrderOcoView(APIView):
    api_key_scope = "trade"  # apikeys: a key needs this scope

    def get_throttles(self):
        return [OrderPairRateThrottle()]

    @extend_schema(
        tags=["orders"],
        operation_id="orders_oco_place",
        request=s.OrderOcoInputSerializer,
        responses={
            201: s.OrderOcoOutputSerializer,
            200: s.OrderOcoOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, 422, 429),
        },
        summary="Place a one-cancels-the-other pair",
        description=(
            "A limit leg at `price` and a stop leg at `stop_price` (or "
            "`trailing_amount` / `trailing_bps`), both of `side` and `quantity`: "
            "a stop limit at `stop_limit_price` when given, else a stop market. "
            "One hold, sized to the larger leg. The first fill of the limit leg "
            "cancels the stop leg, the stop's trigger cancels the limit leg, a "
            "cancel of either cancels both (reason `oco`). With a last price, a "
            "sell pair's `price` must be above it and its stop below it, a buy "
            "pair's the reverse. 201 `{oco_id, orders: [limit, stop]}`; a retry "
            "with the same `client_order_id` (the limit leg's) and body: 200 "
            "with the first pair. Errors as `POST /api/v1/orders`: 403 "
            "`kyc_required`; 404 `unknown_symbol`; 409 `instrument_not_trading`, "
            "`client_order_id_reused`; 400 `invalid_order`, `invalid_tick`, "
            "`invalid_lot`, `below_min_quantity`, `below_min_notional`, "
            "`price_out_of_band`, `invalid_amount`; 422 `insufficient_funds`, "
            "`too_many_open_orders`; 429 `throttled` (counts as two orders)."
        ),
    )
    def post(self, request):
        data = s.OrderOcoInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        orders, created = services.order_place_oco(
            user=request.user, **data.validated_data
        )
        fresh = _fresh_many(orders)
        output = s.OrderOutputSerializer()
        return Response(
            {
                "oco_id": orders[0].pk,
                "orders": [output.to_representation(fresh[o.pk]) for o in orders],
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class OrderByClientIdView(APIView):
    @extend_schema(
        tags=["orders"],
        responses={200: s.OrderOutputSerializer, **error_responses(401, 404)},
    )
    def get(self, request, client_order_id: str):
        order = order_get_by_client_id(
            user=request.user, client_order_id=client_order_id
        )
        return Response(s.OrderOutputSerializer(order).data)


_BATCH_CODES = (
    "Per item, as `POST /api/v1/orders`: 404 `unknown_symbol`; 409 "
    "`instrument_not_trading`, `time_in_force_not_in_call`, "
    "`client_order_id_reused`; 400 `invalid` (the item's "
    "fields), `invalid_order`, `day_needs_calendar`, `invalid_tick`, `invalid_lot`, "
    "`below_min_quantity`, "
    "`below_min_notional`, `price_out_of_band`, `invalid_amount`; 422 "
    "`insufficient_funds`, `too_many_open_orders`."
)


class OrderBatchView(APIView):
    api_key_scope = "trade"  # apikeys: a key needs this scope

    def get_throttles(self):
        return [OrderBatchRateThrottle(field="orders")]

    @extend_schema(
        tags=["orders"],
        operation_id="orders_batch_place",
        request=s.OrderBatchInputSerializer,
        responses={
            200: s.OrderBatchOutputSerializer,
            **error_responses(400, 401, 403, 429),
        },
        summary="Place up to TRADING_BATCH_MAX_ORDERS (50) orders",
        description=(
            "Each item is the body of `POST /api/v1/orders` (symbols may differ) "
            "and is judged on its own, in order, against the funds and open-order "
            "limit the accepted items before it left: `results[i]` is `{status: "
            "201, order}` (created), `{status: 200, order}` (a `client_order_id` "
            "replay, also of an earlier item of the batch) or `{status, error}` "
            "(refused: nothing written for it; the message names the item, e.g. "
            "`orders[3].price: ...`, and `details` the field). "
            + _BATCH_CODES
            + " Whole request: 400 `invalid` naming `orders` (not an object, "
            "`orders` missing, not a list, empty, too many); 403 `kyc_required`; "
            "429 `throttled` (a batch counts one per item against the order "
            "limits per user and per API key, and is refused whole when they do "
            "not all fit: docs/rate-limits.md)."
        ),
    )
    def post(self, request):
        envelope = s.OrderBatchInputSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        raw = envelope.validated_data["orders"]
        items, invalid = [], {}
        # Each item checked as a single order's body (`order_place_plain`); an
        # item it does not pass goes through one serializer shared by all, as
        # a ListSerializer's child (DRF deep-copies the declared fields per
        # serializer: a new one per item was a third of a batch's CPU).
        item_serializer = None
        for index, item in enumerate(raw):
            try:
                plain = s.order_place_plain(item)
                if plain is None:
                    item_serializer = item_serializer or s.OrderPlaceInputSerializer()
                    plain = item_serializer.run_validation(item)
                items.append(plain)
            except ValidationError as exc:
                message, details = validation_error_parts(exc.detail)
                invalid[index] = ApplicationError("invalid", message, details=details)
        if items:
            placed = services.order_place_batch(user=request.user, orders=items)
        else:  # nothing to place, but the request is still refused as a whole
            kyc_require_verified(user=request.user)
            placed = []
        fresh = _fresh_many([result.order for result in placed if result.order])
        output = s.OrderOutputSerializer()
        results, outcomes = [], iter(placed)
        for index in range(len(raw)):
            error = invalid.get(index)
            result = None if error else next(outcomes)
            error = error or result.error
            if error is not None:
                body = _item_error(error, prefix=f"orders[{index}]")
                results.append({"status": http_status(error), "error": body})
                continue
            results.append(
                {
                    "status": 201 if result.created else 200,
                    "order": output.to_representation(fresh[result.order.pk]),
                }
            )
        return Response({"results": results})


class OrderBatchCancelView(APIView):
    api_key_scope = "trade"  # apikeys: a key needs this scope

    def get_throttles(self):
        return [OrderBatchRateThrottle(field="ids")]

    @extend_schema(
        tags=["orders"],
        operation_id="orders_batch_cancel",
        request=s.OrderBatchCancelInputSerializer,
        responses={
            200: s.OrderBatchCancelOutputSerializer,
            **error_responses(400, 401, 429),
        },
        summary="Cancel up to TRADING_BATCH_MAX_ORDERS (50) orders",
        description=(
            "One transaction; each id, in order, as `DELETE /api/v1/orders/{id}`: "
            "`{id, status: 202, order}` (cancel requested; 200 once applied, "
            "embedded mode) or `{id, status, error}`: 404 `order_not_found` (none, "
            "or not yours), 409 `order_not_open`. Whole request: 400 `invalid` "
            "naming `ids` (not a list of ids, empty, too many); 429 `throttled` "
            "(counts as many requests as ids)."
        ),
    )
    def post(self, request):
        envelope = s.OrderBatchCancelInputSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        outcomes = services.order_cancel_batch(
            user=request.user, order_ids=envelope.validated_data["ids"]
        )
        fresh = _fresh_many([result.order for result in outcomes if result.order])
        output = s.OrderOutputSerializer()
        results = []
        for result in outcomes:
            if result.error is not None:
                results.append(
                    {
                        "id": result.order_id,
                        "status": http_status(result.error),
                        "error": _item_error(result.error),
                    }
                )
                continue
            order = fresh[result.order.pk]
            results.append(
                {
                    "id": result.order_id,
                    "status": 202 if order.is_open else 200,
                    "order": output.to_representation(order),
                }
            )
        return Response({"results": results})


class OrderPreviewView(APIView):
    """The order review: what placing this order now would do. The same
    validation and errors as placement (it runs placement's own path without
    writing); nothing is written or reserved."""

    api_key_scope = "trade"  # apikeys: a key needs this scope

    def get_throttles(self):
        return [OrderRateThrottle()]

    @extend_schema(
        tags=["orders"],
        operation_id="orders_preview",
        request=s.OrderPlaceInputSerializer,
        responses={
            200: s.OrderPreviewOutputSerializer,
            **error_responses(400, 401, 403, 404, 409, 422, 429),
        },
        summary="Preview an order (the review step)",
        description=(
            "The body of `POST /api/v1/orders` (`client_order_id` ignored). 200 "
            "with the estimated fill walking the current book (stop orders at "
            "their stop or limit price), the fees at the user's rates and the "
            "exact amount placing it now would hold. The errors are placement's, "
            "in the same shape: 403 `kyc_required`; 404 `unknown_symbol`; 409 "
            "`instrument_not_trading`; 400 `invalid_order`, `invalid_tick`, "
            "`invalid_lot`, `below_min_quantity`, `below_min_notional`, "
            "`price_out_of_band`; 422 `insufficient_funds`, "
            "`too_many_open_orders`."
        ),
    )
    def post(self, request):
        data = s.order_place_input(request.data)
        preview = services.order_preview(user=request.user, **data)
        return Response(s.OrderPreviewOutputSerializer.from_preview(preview))


class TradingPreferenceView(APIView):
    @extend_schema(
        tags=["orders"],
        operation_id="trading_preferences_get",
        responses={200: s.TradingPreferenceSerializer, **error_responses(401)},
        summary="My trading preferences",
    )
    def get(self, request):
        skip = trading_preference_skips_limit_review(user=request.user)
        return Response({"skip_review_for_limit_orders": skip})

    @extend_schema(
        tags=["orders"],
        operation_id="trading_preferences_set",
        request=s.TradingPreferenceSerializer,
        responses={
            200: s.TradingPreferenceSerializer,
            **error_responses(400, 401),
        },
        summary="Set my trading preferences",
    )
    def put(self, request):
        data = s.TradingPreferenceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        preference = services.trading_preference_set(
            user=request.user,
            skip_limit_review=data.validated_data["skip_review_for_limit_orders"],
        )
        return Response({"skip_review_for_limit_orders": preference.skip_limit_review})
