"""Commands: the only way to change a book.

They are ``NamedTuple`` rather than frozen dataclasses: immutable all the same, but
built by C code and unpacked in one step by the engine, which is what the speed goal
needs (see docs/engine.md, "Why NamedTuple").
"""

from typing import NamedTuple

from trading.engine.types import STP, OrderType, Phase, Side, TimeInForce


class Place(NamedTuple):
    """A new order. Prices are ticks, quantities lots, quote_limit price*lots units.

    ``quantity`` may be None only for a market (or stop-market) buy bounded by
    ``quote_limit`` alone. Market orders never rest: their remainder expires.

    ``expire_at`` (whole seconds since the epoch) goes with time_in_force GTD and
    only with it. A trailing stop gives ``trail_amount`` (ticks) or ``trail_bps``
    instead of ``stop_price``; the engine derives the stop from the last price.
    ``oco_with`` names the partner leg, only when rebuilding a book
    (``from_resting``): a new pair is placed with ``PlaceOco``.
    """

    order_id: int
    owner: int
    side: Side
    type: OrderType = OrderType.LIMIT
    price: int | None = None
    quantity: int | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    stop_price: int | None = None
    quote_limit: int | None = None
    stp: STP = STP.EXPIRE_TAKER
    expire_at: int | None = None
    trail_amount: int | None = None
    trail_bps: int | None = None
    oco_with: int | None = None


class Cancel(NamedTuple):
    """Cancel an open order (resting in the book or waiting in the stop book)."""

    order_id: int


class Amend(NamedTuple):
    """Change a resting limit order.

    ``new_quantity`` is the new *remaining open* quantity (what is still on the
    book), not the original total. Lowering it keeps time priority; a new price or a
    higher quantity re-queues the order at the back, and it may then trade.
    """

    order_id: int
    new_price: int | None = None
    new_quantity: int | None = None


class RestingOrder(NamedTuple):
    """One order on the book, as given to ``OrderBook.from_resting`` and returned by
    ``OrderBook.get_order``. ``quantity`` is the remaining open quantity."""

    order_id: int
    owner: int
    side: Side
    price: int
    quantity: int
    filled: int = 0
    stp: STP = STP.EXPIRE_TAKER
    post_only: bool = False
    expire_at: int | None = None
    oco_with: int | None = None
    #: Placed with time in force DAY: ``ExpireDay`` expires it.
    day: bool = False


class ExpireDue(NamedTuple):
    """Advance the book's clock to ``now`` (seconds; never backwards) and expire
    every open GTD order due by then. The engine has no clock of its own: the
    adapter sends this first in every run."""

    now: int


class ExpireDay(NamedTuple):
    """The trading day is over: expire every open DAY order (resting or a
    waiting stop), lowest id first. The adapter sends it when the session
    closes at the end of the day's last phase, never on a halt."""


class PlaceOco(NamedTuple):
    """One-cancels-the-other: a limit leg and a stop leg (same owner, side and
    quantity) linked until one of them trades, triggers or leaves."""

    limit: Place
    stop: Place


class SetPhase(NamedTuple):
    """Switch the book's phase: CONTINUOUS -> CALL or CLOSED, CALL -> CLOSED,
    CLOSED -> CALL or CONTINUOUS. CALL -> CONTINUOUS goes through ``Uncross``."""

    phase: Phase


class Uncross(NamedTuple):
    """End a call phase: execute the auction at one price, then enter
    ``next_phase`` (CONTINUOUS, CLOSED, or CALL again)."""

    next_phase: Phase = Phase.CONTINUOUS


class SetBand(NamedTuple):
    """The volatility band: in CONTINUOUS a fill outside ``reference`` (the last
    trade price, else the one given here) +/- ``band_bps`` basis points stops
    continuous trading and starts a call. ``band_bps`` None switches it off."""

    band_bps: int | None
    reference: int | None = None


Command = (
    Place
    | Cancel
    | Amend
    | ExpireDue
    | ExpireDay
    | PlaceOco
    | SetPhase
    | Uncross
    | SetBand
)
