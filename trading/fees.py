"""The fee rules (docs/trading.md, "Fees"): which asset each side pays in, how
much, and the most an order's fees can come to. The one place they live: the
placement's hold, `hold_need`, the settlement, the displays and the portfolio
call these.

An instrument's fee policy (fixed when it is created, and copied onto each order
when it is placed, like the rates) says which asset each side pays in:

* `quote`: both sides pay in the quote asset, as brokers charge for shares. The
  buyer pays the notional plus the fee, so a buy order holds its fee too; the
  seller receives the notional minus the fee.
* `received`: each side pays in what it receives, as crypto venues do: the buyer
  in the base (deducted from what it receives), the seller in the quote.

A fee is the fill's value times the rate, rounded up to the fee asset's smallest
unit, and never more than what that side receives. Under `quote` a buy order's
fees together never pass its highest rate times everything it bought, rounded up
once (`buy_fee_room`): that is what its hold reserved, so the rounding of many
small fills can never eat into the notional it still has to pay.
"""

from __future__ import annotations

from trading.models import Instrument, Order
from wallet.models import Asset
from wallet.money import mul_div_ceil

QUOTE = Instrument.FeePolicy.QUOTE.value
RECEIVED = Instrument.FeePolicy.RECEIVED.value
BPS = 10_000  # basis points in one


def fee_policy_default(*, base: Asset, lot_size: int) -> str:
    """`quote` for a base with no fractional unit (a share: a fee rounded up to a
    whole share would take the purchase), and for a lot of one smallest unit
    (the same, one unit smaller), `received` otherwise."""
    return QUOTE if base.decimals == 0 or lot_size < 2 else RECEIVED


def fee_asset(*, instrument: Instrument, side: str, fee_policy: str) -> Asset:
    """The asset an order of `side` under `fee_policy` pays its fees in."""
    if side == Order.Side.BUY and fee_policy == RECEIVED:
        return instrument.base
    return instrument.quote


def order_fee_asset(order: Order, instrument: Instrument) -> Asset:
    return fee_asset(
        instrument=instrument, side=order.side, fee_policy=order.fee_policy
    )


def max_fee_bps(order: Order) -> int:
    """The highest rate the order can pay (maker or taker, both kept on it)."""
    return max(order.maker_fee_bps, order.taker_fee_bps)


def buy_fee_room(
    *,
    notional: int,
    fee_policy: str,
    max_bps: int,
    filled_quote: int = 0,
    fees_paid: int = 0,
) -> int:
    """Quote units a buy that has bought `filled_quote` and paid `fees_paid` in
    fees can still pay in fees if it buys `notional` more: under `quote`, its
    highest rate on the whole, rounded up once, minus what it paid; 0 under
    `received` (its fees are in the base)."""
    if fee_policy != QUOTE:
        return 0
    return _fee_room(filled_quote + notional, max_bps, fees_paid)


def _fee_room(value: int, max_bps: int, fees_paid: int) -> int:
    return mul_div_ceil(value, max_bps, BPS) - fees_paid


# The two below run for every fill (the matcher's hot loop): positional
# arguments, no keyword calls inside.


def buyer_fee(buyer: Order, bps: int, quantity: int, notional: int) -> int:
    """The buyer's fee on one fill of `quantity` base units for `notional` quote
    units, at `bps`, in its fee asset; `buyer` as it was before the fill."""
    if buyer.fee_policy == QUOTE:
        room = _fee_room(
            buyer.filled_quote + notional,
            max(buyer.maker_fee_bps, buyer.taker_fee_bps),  # max_fee_bps
            buyer.fees_paid,
        )
        # within what its hold reserved, and never more than the fill's value
        return min(mul_div_ceil(notional, bps, BPS), room, notional)
    return min(mul_div_ceil(quantity, bps, BPS), quantity)


def seller_fee(bps: int, notional: int) -> int:
    """The seller's fee on one fill, in quote units (either policy)."""
    return min(mul_div_ceil(notional, bps, BPS), notional)


def auction_fee_bps(order: Order) -> int:
    """An auction trade (an uncross) has no maker and no taker: each side pays
    its maker rate, the instrument's maker fee copied onto the order when it
    was placed (docs/trading.md, "Fees")."""
    return order.maker_fee_bps
