"""How much an open order must keep reserved: the one rule used by the matcher (to
release any excess) and by verify_ledger (to prove every hold matches)."""

from __future__ import annotations

from trading.models import Instrument, Order

STOP_TYPES = (Order.Type.STOP_LIMIT, Order.Type.STOP_MARKET)
MARKET_TYPES = (Order.Type.MARKET, Order.Type.STOP_MARKET)


def is_waiting_stop(order: Order) -> bool:
    return order.type in STOP_TYPES and not order.stop_triggered


def hold_need(order: Order, instrument: Instrument) -> int | None:
    """Units the order's hold must still contain, or None when only "whatever is
    left" is right (a market buy waiting as a stop keeps its whole budget)."""
    if order.status not in Order.OPEN_STATUSES:
        return 0
    lots = order.quantity_lots if is_waiting_stop(order) else order.open_lots
    if order.side == Order.Side.SELL:
        return (lots or 0) * instrument.lot_size
    if order.type in MARKET_TYPES:
        return None
    return order.price_ticks * lots * instrument.notional_per_tick_lot
