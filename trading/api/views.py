"""Order endpoints: thin; every write goes through trading.services."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.throttling import UserRateThrottle
from rest_framework.views import APIView

from config.openapi import error_responses
from trading import services
from trading.api import serializers as s
from trading.models import Order
from trading.selectors import order_get, order_get_by_client_id, order_list


class OrderRateThrottle(UserRateThrottle):
    """Per-user limit on order writes, counted in the shared cache."""

    scope = "orders"


class OrderCursorPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200


def _fresh(order: Order) -> Order:
    """The order as stored now: in embedded mode (eager tasks) the matcher already
    ran; with a real worker the order just written is the current state."""
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        return order
    return Order.objects.select_related("instrument__base", "instrument__quote").get(
        pk=order.pk
    )


class OrderListCreateView(APIView):
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
        paginator = OrderCursorPagination()
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
            "with 200; a different body is 409 `client_order_id_reused`. Errors: "
            "403 `kyc_required`; 404 `unknown_symbol`; 409 `instrument_not_trading`;"
            " 400 `invalid_order`, `invalid_tick`, `invalid_lot`, "
            "`below_min_quantity`, `below_min_notional`, `price_out_of_band`, "
            "`invalid_amount`; 422 `insufficient_funds`, `too_many_open_orders`; "
            "429 `throttled`."
        ),
    )
    def post(self, request):
        data = s.OrderPlaceInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order, created = services.order_place(user=request.user, **data.validated_data)
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
            "has not applied it yet. 409 `order_not_open` / `order_not_amendable`; "
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
        description="202 while the matcher has not applied the cancel; 200 once done.",
    )
    def delete(self, request, order_id: int):
        order = _fresh(services.order_cancel(user=request.user, order_id=order_id))
        return Response(
            s.OrderOutputSerializer(order).data,
            status=status.HTTP_202_ACCEPTED if order.is_open else status.HTTP_200_OK,
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
