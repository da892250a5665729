"""How much an order must keep reserved: the one rule used by placement (what to
hold), amends (what to add), the matcher (to release any excess) and by
verify_ledger (to prove every hold matches). A buy under the `quote` fee policy
also holds the most its fees can come to (trading/fees.py)."""

from __future__ import annotations

from typing import cast

from trading.fees import BPS, QUOTE, buy_fee_room, max_fee_bps
from trading.models import Instrument, Order

STOP_TYPES = (Order.Type.STOP_LIMIT, Order.Type.STOP_MARKET)
MARKET_TYPES = (Order.Type.MARKET, Order.Type.STOP_MARKET)


def is_waiting_stop(order: Order) -> bool:
    return order.type in STOP_TYPES and not order.stop_triggered


def buy_hold(
    *,
    notional: int,
    fee_policy: str,
    max_bps: int,
    filled_quote: int = 0,
    fees_paid: int = 0,
) -> int:
    """Quote units a buy must hold to buy `notional` more: the notional, and under
    the `quote` policy the most its fees can still come to."""
    return notional + buy_fee_room(
        notional=notional,
        fee_policy=fee_policy,
        max_bps=max_bps,
        filled_quote=filled_quote,
        fees_paid=fees_paid,
    )


def hold_for(
    order: Order, instrument: Instrument, *, price_ticks: int, lots: int
) -> int:
    """Units `order` (with the fills and fees it has) must hold to trade `lots`
    more at `price_ticks` (a limit price; a sell ignores it)."""
    if order.side == Order.Side.SELL:
        return lots * instrument.lot_size
    notional = price_ticks * lots * instrument.notional_per_tick_lot
    if order.fee_policy != QUOTE:  # (the matcher asks after every command)
        return notional
    return buy_hold(
        notional=notional,
        fee_policy=order.fee_policy,
        max_bps=max_fee_bps(order),
        filled_quote=order.filled_quote,
        fees_paid=order.fees_paid,
    )


def hold_need(order: Order, instrument: Instrument) -> int | None:
    """Units the order's hold must still contain, or None when only "whatever is
    left" is right (a market buy waiting as a stop keeps its whole budget)."""
    if order.status not in Order.OPEN_STATUSES:
        return 0
    lots = order.quantity_lots if is_waiting_stop(order) else order.open_lots
    if order.side == Order.Side.BUY and order.type in MARKET_TYPES:
        return None
    # a buy here is a limit order, priced; a sell's price is not read
    price_ticks = cast(int, order.price_ticks)
    return hold_for(order, instrument, price_ticks=price_ticks, lots=lots or 0)


def hold_need_shared(orders: list[Order], instrument: Instrument) -> int | None:
    """Units a hold shared by `orders` (the legs of an OCO pair) must still
    contain: the larger leg's need, since only one leg can ever trade it. None
    when any leg keeps "whatever is left" (a market buy stop)."""
    needs = [hold_need(order, instrument) for order in orders]
    if any(need is None for need in needs):
        return None
    return max((need or 0 for need in needs), default=0)


def trailing_stop_ticks(
    *, side: str, last_ticks: int, trail_amount: int | None, trail_bps: int | None
) -> int:
    """A trailing stop's stop price drawn from the last price (the engine's rule,
    docs/trading.md): `trail_amount` ticks, or `trail_bps` of the last rounded up,
    below it for a sell and above it for a buy. May be <= 0 (a sell trailing by
    more than the price): the caller refuses that."""
    if trail_amount is not None:
        distance = trail_amount
    else:
        distance = -(-last_ticks * (trail_bps or 0) // 10_000)
    return last_ticks - distance if side == Order.Side.SELL else last_ticks + distance


def market_buy_cap_ticks(
    *, reference_ticks: int | None, band_percent: int, slippage_percent: int
) -> int | None:
    """The price (ticks) a market buy by quantity is held at: the price band's
    top above the reference (the last trade, or a stop's stop price) when the
    instrument has a band, else the reference plus `slippage_percent`. None
    without a reference (nothing traded yet): no bound to draw."""
    if reference_ticks is None:
        return None
    percent = band_percent if band_percent > 0 else slippage_percent
    return max(reference_ticks * (100 + percent) // 100, reference_ticks)


def market_buy_limit(
    *, budget: int, per_tick_lot: int, fee_policy: str, max_bps: int
) -> int:
    """The engine's budget (ticks x lots) of a market buy holding `budget` quote
    units: the most it may buy so that what it pays, fees included under the
    `quote` policy, never passes what it holds. 0: not even one lot at one tick."""
    limit = budget // per_tick_lot
    if fee_policy != QUOTE or max_bps == 0:
        return limit
    # v + v x r / BPS <= budget without the rounding; the fee's rounding up adds
    # less than one unit, so at most one step down (a step is >= 1 unit)
    limit = budget * BPS // ((BPS + max_bps) * per_tick_lot)
    while limit > 0 and (
        buy_hold(notional=limit * per_tick_lot, fee_policy=fee_policy, max_bps=max_bps)
        > budget
    ):
        limit -= 1
    return limit
