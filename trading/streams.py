"""Events to the channel layer, only after commit (the layer delivers at most once,
so every market message carries the instrument's sequence for gap detection)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from trading.engine import LevelChanged
from trading.engine import Trade as TradeEvent
from trading.models import Instrument, Order
from trading.units import lots_to_quantity, ticks_to_price

logger = logging.getLogger(__name__)


def market_group(symbol: str) -> str:
    return f"market.{symbol}"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def market_message(instrument: Instrument, event) -> dict:
    if isinstance(event, TradeEvent):
        return {
            "type": "trade",
            "seq": event.seq,
            "price": ticks_to_price(instrument, event.price),
            "quantity": lots_to_quantity(instrument, event.quantity),
            "taker_side": str(event.taker_side),
        }
    if isinstance(event, LevelChanged):
        return {
            "type": "level",
            "seq": event.seq,
            "side": str(event.side),
            "price": ticks_to_price(instrument, event.price),
            "quantity": lots_to_quantity(instrument, event.quantity),
        }
    raise TypeError(f"not a market event: {event!r}")


def order_message(order: Order) -> dict:
    instrument = order.instrument
    return {
        "type": "order",
        "id": order.pk,
        "client_order_id": order.client_order_id,
        "symbol": instrument.symbol,
        "status": order.status,
        "reason": order.reason,
        "filled_quantity": lots_to_quantity(instrument, order.filled_lots),
        "remaining_quantity": lots_to_quantity(instrument, order.open_lots),
    }


def publish_after_commit(
    *, instrument: Instrument, events: list, orders: dict[int, Order]
) -> None:
    market = [market_message(instrument, event) for event in events]
    per_user: dict[int, list[dict]] = {}
    for order in orders.values():
        order.instrument = instrument
        per_user.setdefault(order.user_id, []).append(order_message(order))
    symbol = instrument.symbol

    def send() -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            if market:
                async_to_sync(layer.group_send)(
                    market_group(symbol),
                    {"type": "market.events", "symbol": symbol, "events": market},
                )
            for user_id, messages in per_user.items():
                async_to_sync(layer.group_send)(
                    user_group(user_id), {"type": "user.events", "events": messages}
                )
        except Exception:  # streams heal by snapshot; the trade is committed
            logger.exception("publishing %s events failed", symbol)

    transaction.on_commit(send)
