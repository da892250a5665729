"""What an order is expected to do against the book as it is now: the review
step's estimate (docs/trade-screen.md, "Order review").

Pure: the order as placement would write it (`order_place_judge`), its
instrument and the opposite side's resting levels in, an estimate out. It walks
the levels the way the engine matches (best price first, a market buy within
its budget, a limit only at prices that cross); stop orders are priced at their
stop (a stop market) or limit (a stop limit) price, since the book they will
meet is not the one of now (a trailing stop at the stop it would have now).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from trading.fees import BPS, QUOTE
from trading.holds import MARKET_TYPES, STOP_TYPES
from trading.models import Instrument, Order
from wallet.models import Asset
from wallet.money import mul_div_ceil


@dataclass(frozen=True)
class FillEstimate:
    basis: str  # "book" (walked the current book) or "stop" (at its stop/limit)
    filled_lots: int  # expected to fill at once
    notional: int  # quote units of that fill
    resting_lots: int  # left on the book (a GTC or GTD limit) ...
    unfilled_lots: int  # ... or not filled and expiring (market, IOC, FOK)
    fee: int  # on the fill at the taker rate, on the rest at the maker rate
    fee_asset: Asset


def _fee(order: Order, instrument: Instrument, lots: int, notional: int, bps: int):
    if order.side == Order.Side.BUY and order.fee_policy != QUOTE:
        return mul_div_ceil(lots * instrument.lot_size, bps, BPS)
    return mul_div_ceil(notional, bps, BPS)


def _walk(order: Order, levels: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """(lots, ticks x lots) the order takes from `levels` (best first)."""
    wanted = order.quantity_lots  # None: a market buy by quote amount
    budget = order.quote_limit  # ticks x lots, market buys only
    limit = order.price_ticks
    post_only = order.post_only
    lots_taken = value = 0
    for price, size in levels:
        if post_only:
            break
        if limit is not None and (
            price > limit if order.side == Order.Side.BUY else price < limit
        ):
            break
        take = size if wanted is None else min(size, wanted - lots_taken)
        if budget is not None:
            take = min(take, (budget - value) // price)
        if take <= 0:
            break
        lots_taken += take
        value += take * price
        if wanted is not None and lots_taken >= wanted:
            break
    return lots_taken, value


def fill_estimate(
    *, order: Order, instrument: Instrument, levels: Sequence[tuple[int, int]]
) -> FillEstimate:
    """The estimate for `order` against `levels`, the opposite side's (price
    ticks, lots), best first."""
    per = instrument.notional_per_tick_lot
    fee_asset = (
        instrument.base
        if order.side == Order.Side.BUY and order.fee_policy != QUOTE
        else instrument.quote
    )
    is_market = order.type in MARKET_TYPES
    if order.type in STOP_TYPES:
        price = order.price_ticks or order.stop_price_ticks or 0
        lots = order.quantity_lots
        if lots is None:  # a stop market buy by quote amount: its budget's worth
            lots = (order.quote_limit or 0) // price if price else 0
        taken, value = lots, lots * price
        basis = "stop"
    else:
        taken, value = _walk(order, levels)
        basis = "book"
    notional = value * per
    rest = 0 if order.quantity_lots is None else max(order.quantity_lots - taken, 0)
    rests = (
        not is_market
        and order.time_in_force
        in (Order.TimeInForce.GTC, Order.TimeInForce.GTD, Order.TimeInForce.DAY)
        and order.type != Order.Type.STOP_MARKET
    )
    fee = _fee(order, instrument, taken, notional, order.taker_fee_bps)
    if rests and rest:
        rest_notional = (order.price_ticks or 0) * rest * per
        fee += _fee(order, instrument, rest, rest_notional, order.maker_fee_bps)
    return FillEstimate(
        basis=basis,
        filled_lots=taken,
        notional=notional,
        resting_lots=rest if rests else 0,
        unfilled_lots=0 if rests else rest,
        fee=fee,
        fee_asset=fee_asset,
    )
