"""Reads of the trading app shared by the API, pages, admin and jobs."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from accounts.models import User
from config.errors import NotFound
from trading.errors import TradingErrorCode as Code
from trading.models import FeeOverride, Fill, Instrument, Order


def instrument_get(*, symbol: str) -> Instrument:
    instrument = (
        Instrument.objects.select_related("base", "quote")
        .filter(symbol=(symbol or "").strip().upper())
        .first()
    )
    if instrument is None:
        raise NotFound(
            Code.UNKNOWN_SYMBOL,
            f"symbol: no instrument {symbol!r}.",
            details={"symbol": ["Unknown symbol."]},
        )
    return instrument


def fee_rates(*, user: User, instrument: Instrument) -> tuple[int, int]:
    """(maker, taker) basis points: the user's override for this instrument, else
    their default override, else the instrument's."""
    overrides = {
        override.instrument_id: override
        for override in FeeOverride.objects.filter(user=user).filter(
            Q(instrument=instrument) | Q(instrument__isnull=True)
        )
    }
    override = overrides.get(instrument.pk) or overrides.get(None)
    if override is not None:
        return override.maker_fee_bps, override.taker_fee_bps
    return instrument.maker_fee_bps, instrument.taker_fee_bps


def order_list(*, user: User) -> QuerySet[Order]:
    return Order.objects.filter(user=user).select_related(
        "instrument__base", "instrument__quote"
    )


def order_get(*, user: User, order_id: int) -> Order:
    """The user's order, or 404: nobody sees another user's orders."""
    order = order_list(user=user).filter(pk=order_id).first()
    if order is None:
        raise NotFound(Code.ORDER_NOT_FOUND, f"order {order_id} not found.")
    return order


def order_get_by_client_id(*, user: User, client_order_id: str) -> Order:
    order = order_list(user=user).filter(client_order_id=client_order_id).first()
    if order is None:
        raise NotFound(
            Code.ORDER_NOT_FOUND, f"no order with client_order_id {client_order_id!r}."
        )
    return order


def open_order_count(*, user: User) -> int:
    return Order.objects.filter(user=user, status__in=Order.OPEN_STATUSES).count()


def fill_list(*, user: User) -> QuerySet[Fill]:
    return Fill.objects.filter(user=user).select_related(
        "instrument__base", "instrument__quote", "fee_asset", "order"
    )
