"""The reference book: the matching rules written as plainly as possible.

Same commands in, same events out, same snapshot and state hash as the fast
``OrderBook`` (``book.py``), but none of its speed tricks: every resting order sits
in one list in arrival order, every waiting stop in another, and each question
("which maker is next?", "how much rests at 101?") is answered by scanning them.
It is slow on purpose (about a thousand commands a second on a busy book) and
shares no matching code with the fast book, so the differential tests can hold
each against the other. Read it to learn the rules:

* price-time priority: the best price first, then the earliest arrival; a trade
  prints at the maker's price;
* order types: a limit order trades what crosses and rests the rest; a market
  order takes what it can and never rests; stops wait for the last trade price;
* time in force: GTC rests, IOC expires the remainder, FOK fills whole or is
  refused without a trace; post-only is refused if it would take anything;
* self-trade prevention, decided by the taker's mode;
* amend: a quantity cut keeps the order's place, anything else re-queues it;
* good till date: an order with ``expire_at`` leaves when ``ExpireDue`` says so;
* DAY: an order placed DAY (a limit or a stop) rests like GTC until
  ``ExpireDay`` says the trading day is over;
* OCO: two linked legs; whatever one does (trade, trigger, leave), the other is
  cancelled;
* trailing stops: the stop price follows the last price, never back;
* call auctions: in a call phase orders collect without matching; the uncross
  trades everything it can at one price (``auction_result`` states the rule),
  allocated by market orders first, then price, then time.

Fees are not the engine's: the adapter charges them from each ``Trade``.
"""

from collections.abc import Iterable

from trading.engine import snapshot as snapshots
from trading.engine.commands import (
    Amend,
    Cancel,
    Command,
    ExpireDay,
    ExpireDue,
    Place,
    PlaceOco,
    RestingOrder,
    SetBand,
    SetPhase,
    Uncross,
)
from trading.engine.events import (
    Accepted,
    Amended,
    Event,
    Indicative,
    LevelChanged,
    OrderDone,
    PhaseChanged,
    Rejected,
    StopMoved,
    StopTriggered,
    Trade,
)
from trading.engine.types import (
    MAX_VALUE,
    STP,
    DoneDetail,
    DoneReason,
    OrderType,
    Phase,
    RejectReason,
    Side,
    TimeInForce,
)

#: Phase changes a SetPhase may ask for (CALL -> CONTINUOUS is the uncross's).
PHASE_MOVES = {
    (Phase.CONTINUOUS, Phase.CALL),
    (Phase.CONTINUOUS, Phase.CLOSED),
    (Phase.CALL, Phase.CLOSED),
    (Phase.CLOSED, Phase.CALL),
    (Phase.CLOSED, Phase.CONTINUOUS),
}
#: The Indicative values when nothing would trade.
NO_CROSS = (None, 0, 0, None)

#: A refusal that a fired stop meets becomes this expiry (it was accepted already).
EXPIRY_OF_REFUSAL = {
    RejectReason.POST_ONLY_WOULD_TAKE: DoneDetail.POST_ONLY,
    RejectReason.FOK_NOT_FILLABLE: DoneDetail.FOK,
    RejectReason.NO_LIQUIDITY: DoneDetail.NO_LIQUIDITY,
}


def is_positive(value: object) -> bool:
    """A price, quantity or quote the engine accepts: an int in (0, MAX_VALUE)."""
    return type(value) is int and 0 < value < MAX_VALUE


def opposite(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


def is_stop(order_type: object) -> bool:
    return order_type in (OrderType.STOP_LIMIT, OrderType.STOP_MARKET)


def has_trail(c: Place) -> bool:
    return c.trail_amount is not None or c.trail_bps is not None


def trailed_stop(side: Side, last: int, stop: Place) -> int:
    """Sell: last - trail; buy: last + trail; a trail in bps is
    ceil(last * bps / 10000) ticks."""
    if stop.trail_amount is not None:
        offset = stop.trail_amount
    else:
        bps = stop.trail_bps or 0
        offset = -(-last * bps // 10_000)
    return last - offset if side is Side.SELL else last + offset


def is_tighter(side: Side, candidate: int, current: int) -> bool:
    """A sell stop tightens upwards, a buy stop downwards."""
    return candidate > current if side is Side.SELL else candidate < current


class Resting:
    """An order on the book. ``arrival`` orders time priority."""

    def __init__(
        self,
        order_id: int,
        owner: int,
        side: Side,
        price: int,
        remaining: int,
        filled: int,
        stp: STP,
        post_only: bool,
        arrival: int,
        expire_at: int | None = None,
        oco_with: int | None = None,
        day: bool = False,
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.side = side
        self.price = price
        self.remaining = remaining
        self.filled = filled
        self.stp = stp
        self.post_only = post_only
        self.arrival = arrival
        self.expire_at = expire_at
        self.oco_with = oco_with  # the OCO partner (a stop), while linked
        self.day = day  # placed DAY: ExpireDay expires it

    def copy(self) -> "Resting":
        return Resting(
            self.order_id, self.owner, self.side, self.price, self.remaining,
            self.filled, self.stp, self.post_only, self.arrival, self.expire_at,
            self.oco_with, self.day,
        )  # fmt: skip


class Taker:
    """An accepted order while it trades. ``price`` None: a market order;
    ``remaining`` None: a market buy bounded by its ``quote`` alone."""

    def __init__(
        self,
        order_id: int,
        owner: int,
        side: Side,
        price: int | None,
        remaining: int | None,
        quote: int | None,
        tif: TimeInForce,
        stp: STP,
        post_only: bool,
        filled: int = 0,
        expire_at: int | None = None,
        oco_with: int | None = None,
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.side = side
        self.price = price
        self.remaining = remaining
        self.quote = quote
        self.tif = tif
        self.stp = stp
        self.post_only = post_only
        self.filled = filled
        self.expire_at = expire_at
        self.oco_with = oco_with

    def wants_more(self) -> bool:
        return self.remaining is None or self.remaining > 0

    def crosses(self, price: int) -> bool:
        """Would this taker trade with a maker of the other side at that price?"""
        if self.price is None:
            return True
        if self.side is Side.BUY:
            return price <= self.price
        return price >= self.price

    def copy(self) -> "Taker":
        return Taker(
            self.order_id, self.owner, self.side, self.price, self.remaining,
            self.quote, self.tif, self.stp, self.post_only, self.filled,
            self.expire_at, self.oco_with,
        )  # fmt: skip


class ReferenceBook:
    """One instrument's book, naive. Feed it commands, get events back."""

    def __init__(
        self,
        symbol: str | int = "",
        sequence: int = 0,
        last_price: int | None = None,
    ) -> None:
        self.symbol = symbol
        self.seq = sequence
        self.last_price = last_price
        self.orders: list[Resting] = []  # in arrival order
        self.stops: list[tuple[int, Place]] = []  # (arrival, place), arrival order
        self.clock = 0  # arrival counter
        self.now = 0  # the last ExpireDue time
        self.phase = Phase.CONTINUOUS
        self.band_bps: int | None = None  # volatility band, basis points
        self.reference: int | None = None  # the band's price before any trade
        self.markets: list[tuple[int, Place]] = []  # queued in a call, arrival order
        # Fills a queued market order had before a volatility interruption.
        self.market_filled: dict[int, int] = {}
        # The last Indicative values published in this call phase.
        self.published: tuple[int | None, int, int, Side | None] = NO_CROSS

    # ------------------------------------------------------------ state, rebuild

    @classmethod
    def from_resting(
        cls,
        symbol: str | int,
        orders: Iterable[RestingOrder],
        stops: Iterable[Place] = (),
        sequence: int = 0,
        last_price: int | None = None,
        clock: int = 0,
    ) -> "ReferenceBook":
        """Rebuild from open orders (oldest first) and waiting stops (oldest
        first). Nothing is matched; malformed or duplicate rows, and OCO links
        that do not pair a resting order with a stop both ways, raise ValueError."""
        book = cls(symbol, sequence, last_price)
        book.now = clock
        for order in orders:
            book.load_order(order)
        for stop in stops:
            book.load_stop(stop)
        for leg in book.orders:
            if leg.oco_with is not None:
                entry = book.find_stop(leg.oco_with)
                if entry is None or entry[1].oco_with != leg.order_id:
                    raise ValueError(f"order {leg.order_id}: bad OCO link")
        for _, place in book.stops:
            if place.oco_with is not None:
                partner = book.find(place.oco_with)
                if partner is None or partner.oco_with != place.order_id:
                    raise ValueError(f"stop {place.order_id}: bad OCO link")
        return book

    @classmethod
    def restore(cls, snapshot: dict[str, object]) -> "ReferenceBook":
        decoded = snapshots.decode(snapshot)
        symbol, sequence, last_price, orders, stops, clock, session = decoded
        book = cls.from_resting(symbol, orders, stops, sequence, last_price, clock)
        book.phase = session.phase
        book.band_bps = session.band_bps
        book.reference = session.reference
        for market, filled in session.markets:
            if market.type is not OrderType.MARKET or book.is_open(market.order_id):
                raise ValueError(f"bad queued market order {market.order_id!r}")
            book.markets.append((book.next_arrival(), market))
            if filled:
                book.market_filled[market.order_id] = filled
        if book.phase is Phase.CALL:
            book.published = book.auction_result()
        return book

    def snapshot(self) -> dict[str, object]:
        """The same plain data as ``OrderBook.snapshot()`` for the same book."""
        return snapshots.encode(
            self.symbol,
            self.seq,
            self.last_price,
            self.resting_orders(Side.BUY),
            self.resting_orders(Side.SELL),
            self.stop_orders(),
            self.now,
            snapshots.Session(
                self.phase, self.band_bps, self.reference,
                tuple(
                    (m, self.market_filled.get(m.order_id, 0))
                    for m in self.market_orders()
                ),
            ),
        )  # fmt: skip

    def state_hash(self) -> str:
        return snapshots.digest(self.snapshot())

    def load_order(self, order: RestingOrder) -> None:
        order_id, owner, side, price, quantity, filled, stp, post_only = order[:8]
        if order.expire_at is not None and not is_positive(order.expire_at):
            raise ValueError(f"order {order_id}: bad expire_at")
        if order.day and order.oco_with is not None:
            raise ValueError(f"order {order_id}: a DAY order cannot be OCO")
        if type(order_id) is not int or self.is_open(order_id):
            raise ValueError(f"bad or duplicate order id {order_id!r}")
        if side not in list(Side) or stp not in list(STP):
            raise ValueError(f"order {order_id}: bad side or stp")
        if not is_positive(price) or not is_positive(quantity) or filled < 0:
            raise ValueError(f"order {order_id}: bad price, quantity or filled")
        self.orders.append(
            Resting(
                order_id, owner, Side(side), price, quantity, filled, STP(stp),
                bool(post_only), self.next_arrival(), order.expire_at,
                order.oco_with, bool(order.day),
            )
        )  # fmt: skip

    def load_stop(self, stop: Place) -> None:
        """A stop is valid if a fresh book would accept it and keep it waiting. A
        trailing stop is checked without its current stop price (against a last
        price that leaves room for any trail), then keeps the one given."""
        if self.is_open(stop.order_id):
            raise ValueError(f"duplicate order id {stop.order_id!r}")
        command = stop._replace(oco_with=None)
        probe = ReferenceBook()
        if has_trail(stop):
            command = command._replace(stop_price=None)
            probe.last_price = MAX_VALUE // 2 if stop.side == Side.SELL else 1
        events = probe.process(command)
        waiting = probe.get_stop(stop.order_id)
        if type(events[0]) is not Accepted or waiting is None:
            raise ValueError(f"stop {stop.order_id}: invalid ({events[0]!r})")
        if has_trail(stop):
            if not is_positive(stop.stop_price):
                raise ValueError(f"stop {stop.order_id}: bad current stop price")
            waiting = waiting._replace(stop_price=stop.stop_price)
        self.stops.append(
            (self.next_arrival(), waiting._replace(oco_with=stop.oco_with))
        )

    # ------------------------------------------------------------------ reading

    @property
    def sequence(self) -> int:
        return self.seq

    @property
    def last_trade_price(self) -> int | None:
        return self.last_price

    def next_arrival(self) -> int:
        self.clock += 1
        return self.clock

    def find(self, order_id: object) -> Resting | None:
        for order in self.orders:
            if order.order_id == order_id:
                return order
        return None

    def find_stop(self, order_id: object) -> tuple[int, Place] | None:
        for entry in self.stops:
            if entry[1].order_id == order_id:
                return entry
        return None

    def find_market(self, order_id: object) -> tuple[int, Place] | None:
        for entry in self.markets:
            if entry[1].order_id == order_id:
                return entry
        return None

    def is_open(self, order_id: object) -> bool:
        return (
            self.find(order_id) is not None
            or self.find_stop(order_id) is not None
            or self.find_market(order_id) is not None
        )

    def market_orders(self) -> list[Place]:
        """Market orders queued for the uncross, in arrival order."""
        return [place for _, place in self.markets]

    def indicative(self) -> tuple[int | None, int, int, Side | None]:
        return self.auction_result()

    def in_priority(self, side: Side) -> list[Resting]:
        """One side's orders, best price first, then earliest arrival."""
        mine = [o for o in self.orders if o.side is side]
        if side is Side.BUY:
            return sorted(mine, key=lambda o: (-o.price, o.arrival))
        return sorted(mine, key=lambda o: (o.price, o.arrival))

    def level_total(self, side: Side, price: int) -> int:
        return sum(
            o.remaining for o in self.orders if o.side is side and o.price == price
        )

    def prices(self, side: Side) -> list[int]:
        """One side's prices, best first."""
        return sorted(
            {o.price for o in self.orders if o.side is side}, reverse=side is Side.BUY
        )

    def depth(
        self, levels: int = 10
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        if levels <= 0:
            return [], []
        bids = [(p, self.level_total(Side.BUY, p)) for p in self.prices(Side.BUY)]
        asks = [(p, self.level_total(Side.SELL, p)) for p in self.prices(Side.SELL)]
        return bids[:levels], asks[:levels]

    def best_bid(self) -> int | None:
        bids = self.prices(Side.BUY)
        return bids[0] if bids else None

    def best_ask(self) -> int | None:
        asks = self.prices(Side.SELL)
        return asks[0] if asks else None

    def is_crossed(self) -> bool:
        bid = self.best_bid()
        ask = self.best_ask()
        return bid is not None and ask is not None and bid >= ask

    def get_order(self, order_id: int) -> RestingOrder | None:
        order = self.find(order_id)
        return None if order is None else self.as_resting(order)

    def get_stop(self, order_id: int) -> Place | None:
        entry = self.find_stop(order_id)
        return None if entry is None else entry[1]

    def resting_orders(self, side: Side) -> list[RestingOrder]:
        return [self.as_resting(o) for o in self.in_priority(side)]

    def stop_orders(self) -> list[Place]:
        return [place for _, place in self.stops]

    def open_order_count(self) -> int:
        return len(self.orders) + len(self.stops) + len(self.markets)

    @staticmethod
    def as_resting(o: Resting) -> RestingOrder:
        return RestingOrder(
            o.order_id, o.owner, o.side, o.price, o.remaining, o.filled, o.stp,
            o.post_only, o.expire_at, o.oco_with, o.day,
        )  # fmt: skip

    # ------------------------------------------------------------------- events

    def trade(self, maker: Resting, taker: Taker, quantity: int) -> Trade:
        """A trade changes the tape: it takes the next sequence number."""
        self.seq += 1
        self.last_price = maker.price
        return Trade(
            self.seq, maker.order_id, taker.order_id, maker.owner, taker.owner,
            maker.price, quantity, taker.side,
        )  # fmt: skip

    def level_changed(self, side: Side, price: int) -> LevelChanged:
        """A level's new total changes the public book: the next sequence number."""
        self.seq += 1
        return LevelChanged(self.seq, side, price, self.level_total(side, price))

    def done(
        self,
        order_id: int,
        owner: int,
        reason: DoneReason,
        detail: DoneDetail,
        remaining: int,
        filled: int,
    ) -> OrderDone:
        return OrderDone(self.seq, order_id, owner, reason, detail, remaining, filled)

    def rejected(self, order_id: object, command: str, why: RejectReason) -> Rejected:
        return Rejected(self.seq, order_id, command, why)

    # ----------------------------------------------------------------- matching

    def best_crossing_price(self, taker: Taker) -> int | None:
        """The best price on the other side, if the taker's limit reaches it."""
        prices = self.prices(opposite(taker.side))
        if prices and taker.crosses(prices[0]):
            return prices[0]
        return None

    def outside_band(self, price: int, reference: int | None) -> bool:
        """Would a fill at ``price`` print outside the volatility band around
        ``reference``: reference -/+ reference * band_bps // 10000?"""
        if self.band_bps is None or reference is None:
            return False
        width = reference * self.band_bps // 10_000
        return not reference - width <= price <= reference + width

    def match(self, taker: Taker, out: list[Event]) -> DoneDetail | None:
        """Trade the taker against the book, one price level at a time, each level
        followed by one LevelChanged with its final total if that moved. Returns
        why matching stopped early (STP or quote limit), None if the next fill
        would print outside the volatility band (around the reference as the
        taker arrived), or NONE if the taker ran out of quantity or of crossing
        orders."""
        reference = self.auction_reference()
        while taker.wants_more():
            price = self.best_crossing_price(taker)
            if price is None:
                return DoneDetail.NONE
            if self.outside_band(price, reference):
                return None
            before = self.level_total(opposite(taker.side), price)
            why = self.match_level(taker, price, out)
            if self.level_total(opposite(taker.side), price) != before:
                out.append(self.level_changed(opposite(taker.side), price))
            if why is not DoneDetail.NONE:
                return why
        return DoneDetail.NONE

    def match_level(self, taker: Taker, price: int, out: list[Event]) -> DoneDetail:
        """Trade against the makers at one price, earliest first."""
        makers = [
            o for o in self.orders if o.side is not taker.side and o.price == price
        ]
        for maker in makers:
            if not taker.wants_more():
                break
            if maker.owner == taker.owner:  # self-trade prevention
                if taker.stp is STP.EXPIRE_TAKER:
                    return DoneDetail.STP
                self.orders.remove(maker)
                out.append(
                    self.done(
                        maker.order_id, maker.owner, DoneReason.EXPIRED,
                        DoneDetail.STP, maker.remaining, maker.filled,
                    )
                )  # fmt: skip
                self.unlink_and_cancel_partner(maker, out)
                if taker.stp is STP.EXPIRE_BOTH:
                    return DoneDetail.STP
                continue
            quantity = maker.remaining
            if taker.remaining is not None:
                quantity = min(quantity, taker.remaining)
            if taker.quote is not None:
                affordable = taker.quote // price
                if affordable == 0:
                    return DoneDetail.QUOTE_LIMIT
                quantity = min(quantity, affordable)
                taker.quote -= quantity * price
            out.append(self.trade(maker, taker, quantity))
            # A trade is an OCO leg's last act as a pair, and moves trailing stops.
            self.unlink_and_cancel_partner(maker, out)
            self.unlink_and_cancel_partner(taker, out)
            self.move_trailing_stops(price, out)
            maker.remaining -= quantity
            maker.filled += quantity
            taker.filled += quantity
            if taker.remaining is not None:
                taker.remaining -= quantity
            if maker.remaining == 0:
                self.orders.remove(maker)
                out.append(
                    self.done(
                        maker.order_id, maker.owner, DoneReason.FILLED,
                        DoneDetail.NONE, 0, maker.filled,
                    )
                )  # fmt: skip
        return DoneDetail.NONE

    def refusal(self, taker: Taker) -> RejectReason | None:
        """Why an order must be refused without a trace, or None."""
        makers = [o for o in self.orders if o.side is not taker.side]
        if taker.price is None and not makers:
            return RejectReason.NO_LIQUIDITY
        if taker.post_only and any(taker.crosses(o.price) for o in makers):
            return RejectReason.POST_ONLY_WOULD_TAKE
        if taker.tif is TimeInForce.FOK and not self.would_fill(taker):
            return RejectReason.FOK_NOT_FILLABLE
        return None

    def would_fill(self, taker: Taker) -> bool:
        """Fill or kill: run the taker against a copy of the book and see."""
        trial = ReferenceBook(last_price=self.last_price)
        trial.band_bps, trial.reference = self.band_bps, self.reference
        trial.orders = [o.copy() for o in self.orders]
        probe = taker.copy()
        why = trial.match(probe, [])
        return why is DoneDetail.NONE and probe.remaining == 0

    def execute(self, taker: Taker, out: list[Event]) -> None:
        """Match an accepted taker, then fill, expire or rest what is left."""
        why = self.match(taker, out)
        left = 0 if taker.remaining is None else taker.remaining
        order_id, owner, filled = taker.order_id, taker.owner, taker.filled
        if why is None:
            self.interrupt(taker, out)
        elif taker.remaining == 0:
            out.append(
                self.done(
                    order_id, owner, DoneReason.FILLED, DoneDetail.NONE, 0, filled
                )
            )
        elif why is not DoneDetail.NONE:
            out.append(
                self.done(order_id, owner, DoneReason.EXPIRED, why, left, filled)
            )
        elif taker.price is None:
            out.append(
                self.done(
                    order_id, owner, DoneReason.EXPIRED, DoneDetail.NO_LIQUIDITY,
                    left, filled,
                )
            )  # fmt: skip
        elif taker.tif in (TimeInForce.IOC, TimeInForce.FOK):
            detail = DoneDetail.IOC if taker.tif is TimeInForce.IOC else DoneDetail.FOK
            out.append(
                self.done(order_id, owner, DoneReason.EXPIRED, detail, left, filled)
            )
        else:  # GTC, GTD or DAY: it rests
            self.orders.append(
                Resting(
                    order_id, owner, taker.side, taker.price, left, filled, taker.stp,
                    taker.post_only, self.next_arrival(), taker.expire_at,
                    taker.oco_with, taker.tif is TimeInForce.DAY,
                )
            )  # fmt: skip
            out.append(self.level_changed(taker.side, taker.price))
            return
        # An OCO leg that leaves without resting takes its partner along.
        if not self.is_open(order_id):
            self.unlink_and_cancel_partner(taker, out)

    def interrupt(self, taker: Taker, out: list[Event]) -> None:
        """A volatility interruption: continuous trading stops before the fill
        outside the band and a call starts. The taker's remainder joins the
        call: a market order queues (with its earlier fills and what is left of
        its quote), a GTC or GTD limit order rests, an IOC (or FOK) one expires."""
        self.enter(Phase.CALL, "volatility", out)
        order_id, owner, filled = taker.order_id, taker.owner, taker.filled
        left = 0 if taker.remaining is None else taker.remaining
        if taker.price is None:
            queued = Place(
                order_id, owner, taker.side, OrderType.MARKET, None,
                taker.remaining, TimeInForce.IOC, False, None, taker.quote,
                taker.stp,
            )  # fmt: skip
            self.markets.append((self.next_arrival(), queued))
            if filled:
                self.market_filled[order_id] = filled
        elif taker.tif in (TimeInForce.IOC, TimeInForce.FOK):
            detail = DoneDetail.IOC if taker.tif is TimeInForce.IOC else DoneDetail.FOK
            out.append(
                self.done(order_id, owner, DoneReason.EXPIRED, detail, left, filled)
            )
        else:
            self.orders.append(
                Resting(
                    order_id, owner, taker.side, taker.price, left, filled, taker.stp,
                    taker.post_only, self.next_arrival(), taker.expire_at,
                    taker.oco_with, taker.tif is TimeInForce.DAY,
                )
            )  # fmt: skip
            out.append(self.level_changed(taker.side, taker.price))

    # -------------------------------------------------------------------- stops

    def next_triggered_stop(self) -> tuple[int, Place] | None:
        """Buy stops at or below the last price (lowest stop first) before sell
        stops at or above it (highest first); ties by arrival."""
        last = self.last_price
        if last is None:
            return None
        buys = [
            s
            for s in self.stops
            if s[1].side is Side.BUY and (s[1].stop_price or 0) <= last
        ]
        if buys:
            return min(buys, key=lambda s: (s[1].stop_price or 0, s[0]))
        sells = [
            s
            for s in self.stops
            if s[1].side is Side.SELL and (s[1].stop_price or 0) >= last
        ]
        if sells:
            return min(sells, key=lambda s: (-(s[1].stop_price or 0), s[0]))
        return None

    def fire_stops(self, out: list[Event]) -> None:
        """Fire one stop at a time, testing again after each: a fired order may
        trade and move the last price, so a cascade ends within the command.
        Stops wait while the book is not continuous."""
        while self.phase is Phase.CONTINUOUS:
            chosen = self.next_triggered_stop()
            if chosen is None:
                return
            self.stops.remove(chosen)
            stop = chosen[1]
            out.append(
                StopTriggered(
                    self.seq, stop.order_id, stop.owner, stop.stop_price or 0,
                    self.last_price or 0,
                )
            )  # fmt: skip
            if stop.oco_with is not None:  # the limit leg goes
                self.cancel_partner(stop.oco_with, out)
            taker = Taker(
                stop.order_id, stop.owner, stop.side, stop.price, stop.quantity,
                stop.quote_limit, stop.time_in_force, stop.stp, stop.post_only,
                0, stop.expire_at,
            )  # fmt: skip
            why = self.refusal(taker)
            if why is None:
                self.execute(taker, out)
            else:
                out.append(
                    self.done(
                        stop.order_id, stop.owner, DoneReason.EXPIRED,
                        EXPIRY_OF_REFUSAL[why], stop.quantity or 0, 0,
                    )
                )  # fmt: skip

    # --------------------------------------------------------- OCO, trailing

    def cancel_partner(
        self, partner_id: int, out: list[Event], due: frozenset[int] = frozenset()
    ) -> None:
        """An OCO leg left: its partner is cancelled (detail OCO), unless it is
        itself due in the same ExpireDue (it then expires in its turn)."""
        order = self.find(partner_id)
        entry = self.find_stop(partner_id)
        if partner_id in due:
            if order is not None:
                order.oco_with = None
            elif entry is not None:
                self.stops[self.stops.index(entry)] = (
                    entry[0],
                    entry[1]._replace(oco_with=None),
                )
            return
        if order is not None:
            self.orders.remove(order)
            out.append(
                self.done(
                    order.order_id, order.owner, DoneReason.CANCELLED,
                    DoneDetail.OCO, order.remaining, order.filled,
                )
            )  # fmt: skip
            out.append(self.level_changed(order.side, order.price))
        elif entry is not None:
            self.stops.remove(entry)
            place = entry[1]
            out.append(
                self.done(
                    place.order_id, place.owner, DoneReason.CANCELLED,
                    DoneDetail.OCO, place.quantity or 0, 0,
                )
            )  # fmt: skip

    def unlink_and_cancel_partner(self, leg: Resting | Taker, out: list[Event]) -> None:
        """The leg traded or left: the pair is over, its partner goes."""
        if leg.oco_with is not None:
            partner_id = leg.oco_with
            leg.oco_with = None
            self.cancel_partner(partner_id, out)

    def move_trailing_stops(self, price: int, out: list[Event]) -> None:
        """After a trade at ``price``, each trailing stop (in arrival order) takes
        the stop derived from it if that is tighter."""
        for index, (arrival, stop) in enumerate(self.stops):
            if not has_trail(stop):
                continue
            candidate = trailed_stop(stop.side, price, stop)
            if is_tighter(stop.side, candidate, stop.stop_price or 0):
                self.stops[index] = (arrival, stop._replace(stop_price=candidate))
                out.append(StopMoved(self.seq, stop.order_id, stop.owner, candidate))

    # ------------------------------------------------------------ call auction

    def queued_takers(self) -> list[Taker]:
        """The queued market orders as records the uncross can fill."""
        return [
            Taker(
                m.order_id, m.owner, m.side, None, m.quantity, m.quote_limit,
                m.time_in_force, m.stp, False, self.market_filled.get(m.order_id, 0),
            )
            for _, m in self.markets
        ]  # fmt: skip

    @staticmethod
    def open_lots(order: Resting | Taker, price: int) -> int:
        """What an order could still trade at ``price``: a resting order its
        remaining lots; a market order its quantity, and for a buy with a quote
        limit no more than the quote buys at that price."""
        if isinstance(order, Resting):
            return order.remaining
        lots = order.remaining
        if order.quote is not None:
            affordable = order.quote // price
            lots = affordable if lots is None else min(lots, affordable)
        return lots or 0

    def auction_reference(self) -> int | None:
        """The last trade price, else the band's reference, else None."""
        return self.last_price if self.last_price is not None else self.reference

    def auction_result(
        self, markets: list[Taker] | None = None
    ) -> tuple[int | None, int, int, Side | None]:
        """(price, volume, surplus, surplus side) of an uncross now, tried at
        every candidate price (each limit price, and the reference):

        1. the largest executable volume, min(buy lots at or above p with the
           market buys, sell lots at or below p with the market sells);
        2. then the smallest surplus |buy lots - sell lots| at p;
        3. then market pressure: every candidate left has more buyers -> the
           highest, more sellers -> the lowest;
        4. otherwise the nearest to the reference (last trade, else the band
           reference); then the lower price.
        """
        if markets is None:
            markets = self.queued_takers()
        reference = self.auction_reference()
        candidates = {o.price for o in self.orders}
        if reference is not None:
            candidates.add(reference)
        everyone: list[Resting | Taker] = [*self.orders, *markets]
        rows = []
        for price in sorted(candidates):
            buys = sum(
                self.open_lots(o, price)
                for o in everyone
                if o.side is Side.BUY and (o.price is None or o.price >= price)
            )
            sells = sum(
                self.open_lots(o, price)
                for o in everyone
                if o.side is Side.SELL and (o.price is None or o.price <= price)
            )
            if min(buys, sells) > 0:
                rows.append((price, min(buys, sells), buys - sells))
        if not rows:
            return NO_CROSS
        volume = max(v for _, v, _ in rows)
        rows = [r for r in rows if r[1] == volume]
        least = min(abs(s) for _, _, s in rows)
        rows = [r for r in rows if abs(r[2]) == least]
        if all(s > 0 for _, _, s in rows):
            price, _, surplus = rows[-1]
        elif all(s < 0 for _, _, s in rows):
            price, _, surplus = rows[0]
        elif reference is not None:
            price, _, surplus = min(rows, key=lambda r: (abs(r[0] - reference), r[0]))
        else:
            price, _, surplus = rows[0]
        side = None if not surplus else Side.BUY if surplus > 0 else Side.SELL
        return price, volume, abs(surplus), side

    def publish_indicative(self, out: list[Event]) -> None:
        """In a call phase, an Indicative event when the result has changed."""
        if self.phase is not Phase.CALL:
            return
        result = self.auction_result()
        if result != self.published:
            self.published = result
            out.append(Indicative(self.seq, *result))

    def set_phase(self, c: SetPhase, out: list[Event]) -> None:
        phase = Phase(c.phase) if c.phase in list(Phase) else None
        move = (self.phase, phase)
        if (
            phase is None
            or move not in PHASE_MOVES
            or (move == (Phase.CLOSED, Phase.CONTINUOUS) and self.is_crossed())
        ):
            out.append(self.rejected(None, "phase", RejectReason.INVALID_PHASE))
            return
        self.enter(phase, "command", out)
        self.expire_markets(self.queued_takers(), out)

    def enter(self, phase: Phase, reason: str, out: list[Event]) -> None:
        """Its Indicative comes at the end of the command (``process``)."""
        self.phase = phase
        self.published = NO_CROSS
        out.append(PhaseChanged(self.seq, phase, reason))

    def expire_markets(self, markets: list[Taker], out: list[Event]) -> None:
        """Market orders queued for an auction that is over expire, oldest first."""
        for market in markets:
            out.append(
                self.done(
                    market.order_id, market.owner, DoneReason.EXPIRED,
                    DoneDetail.AUCTION, market.remaining or 0, market.filled,
                )
            )  # fmt: skip
        self.markets = []
        self.market_filled = {}

    def uncross(self, c: Uncross, out: list[Event]) -> None:
        """Trade at the auction price, round after round while anything still
        crosses (only self-trade prevention leaves a cross for a next round),
        expire the market orders left, then enter the next phase."""
        following = Phase(c.next_phase) if c.next_phase in list(Phase) else None
        if self.phase is not Phase.CALL or following is None:
            out.append(self.rejected(None, "uncross", RejectReason.INVALID_PHASE))
            return
        markets = self.queued_takers()
        while True:
            price = self.auction_result(markets)[0]
            if price is None:
                break
            self.allocate(price, markets, out)
        self.expire_markets(markets, out)
        self.enter(following, "uncross", out)
        if following is Phase.CONTINUOUS:
            self.fire_stops(out)

    def allocate(self, price: int, markets: list[Taker], out: list[Event]) -> None:
        """One round at ``price``: buys (market first, then highest price, then
        earliest) paired in turn with sells (market first, then lowest price,
        then earliest). A pair of one owner trades nothing: the order with the
        higher id acts as the taker and its STP mode says which leaves. Market
        orders that close leave ``markets``."""
        buys: list[Resting | Taker] = [m for m in markets if m.side is Side.BUY]
        buys += [o for o in self.in_priority(Side.BUY) if o.price >= price]
        sells: list[Resting | Taker] = [m for m in markets if m.side is Side.SELL]
        sells += [o for o in self.in_priority(Side.SELL) if o.price <= price]
        touched: set[tuple[Side, int]] = set()
        while buys and sells:
            buy, sell = buys[0], sells[0]
            if buy.owner == sell.owner:
                later, earlier = (buy, sell) if buy.order_id > sell.order_id else (
                    sell, buy
                )  # fmt: skip
                leaving = {
                    STP.EXPIRE_TAKER: [later],
                    STP.EXPIRE_MAKER: [earlier],
                    STP.EXPIRE_BOTH: [sell, buy],
                }[later.stp]
                for order in leaving:
                    self.auction_close(
                        order, DoneReason.EXPIRED, DoneDetail.STP, markets, touched,
                        out,
                    )  # fmt: skip
                    (buys if order is buy else sells).pop(0)
                continue
            quantity = min(self.open_lots(buy, price), self.open_lots(sell, price))
            if quantity == 0:  # a market buy whose quote cannot pay one lot
                self.auction_close(
                    buy, DoneReason.EXPIRED, DoneDetail.QUOTE_LIMIT, markets,
                    touched, out,
                )  # fmt: skip
                buys.pop(0)
                continue
            self.seq += 1
            self.last_price = price
            out.append(
                Trade(
                    self.seq, sell.order_id, buy.order_id, sell.owner, buy.owner,
                    price, quantity, Side.BUY, True,
                )
            )  # fmt: skip
            self.unlink_and_cancel_partner(sell, out)
            self.unlink_and_cancel_partner(buy, out)
            self.move_trailing_stops(price, out)
            for order in (sell, buy):
                if isinstance(order, Resting):
                    touched.add((order.side, order.price))
                order.filled += quantity
                if order.remaining is not None:
                    order.remaining -= quantity
                if isinstance(order, Taker) and order.quote is not None:
                    order.quote -= quantity * price
            for order, queue in ((sell, sells), (buy, buys)):
                if order.remaining == 0:
                    self.auction_close(
                        order, DoneReason.FILLED, DoneDetail.NONE, markets, touched,
                        out,
                    )  # fmt: skip
                    queue.pop(0)
        for side in (Side.BUY, Side.SELL):
            for level in sorted(p for s, p in touched if s is side)[
                :: -1 if side is Side.BUY else 1
            ]:
                out.append(self.level_changed(side, level))

    def auction_close(
        self,
        order: Resting | Taker,
        reason: DoneReason,
        detail: DoneDetail,
        markets: list[Taker],
        touched: set[tuple[Side, int]],
        out: list[Event],
    ) -> None:
        """An order leaves during the uncross (filled, or expired by STP or its
        quote limit); its OCO partner goes with it."""
        remaining = order.remaining or 0
        out.append(
            self.done(
                order.order_id, order.owner, reason, detail, remaining, order.filled
            )
        )
        if isinstance(order, Resting):
            self.orders.remove(order)
            touched.add((order.side, order.price))
            if reason is not DoneReason.FILLED:
                self.unlink_and_cancel_partner(order, out)
        else:
            markets.remove(order)

    # ----------------------------------------------------------------- commands

    def process(self, command: Command) -> list[Event]:
        out: list[Event] = []
        if type(command) is Place:
            self.place(command, out)
        elif type(command) is Cancel:
            self.cancel(command, out)
        elif type(command) is Amend:
            self.amend(command, out)
        elif type(command) is ExpireDue:
            self.expire_due(command, out)
        elif type(command) is ExpireDay:
            self.expire_day(out)
        elif type(command) is PlaceOco:
            self.place_oco(command, out)
        elif type(command) is SetPhase:
            self.set_phase(command, out)
        elif type(command) is Uncross:
            self.uncross(command, out)
        elif type(command) is SetBand:
            self.set_band(command, out)
        else:
            out.append(self.rejected(None, "unknown", RejectReason.UNKNOWN_COMMAND))
        self.publish_indicative(out)
        return out

    def set_band(self, c: SetBand, out: list[Event]) -> None:
        """Set or clear (None) the volatility band and its fallback reference."""
        if not (
            (
                c.band_bps is None
                or (type(c.band_bps) is int and 0 < c.band_bps < 10_000)
            )
            and (c.reference is None or is_positive(c.reference))
        ):
            out.append(self.rejected(None, "band", RejectReason.INVALID_BAND))
            return
        self.band_bps = c.band_bps
        self.reference = c.reference

    def process_many(self, commands: Iterable[Command]) -> list[Event]:
        out: list[Event] = []
        for command in commands:
            out.extend(self.process(command))
        return out

    def validate(self, c: Place) -> RejectReason | None:
        """The first rule a new order breaks, in the documented order."""
        if not (
            type(c.order_id) is int
            and type(c.owner) is int
            and c.side in list(Side)
            and c.type in list(OrderType)
            and c.time_in_force in list(TimeInForce)
            and c.stp in list(STP)
            and type(c.post_only) is bool
        ):
            return RejectReason.INVALID_ORDER
        if self.is_open(c.order_id):
            return RejectReason.DUPLICATE_ORDER_ID
        market = c.type in (OrderType.MARKET, OrderType.STOP_MARKET)
        gtd = c.time_in_force == TimeInForce.GTD
        if market and c.price is not None:
            return RejectReason.INVALID_PRICE
        if market and c.post_only:
            return RejectReason.INVALID_ORDER
        if not market and not is_positive(c.price):
            return RejectReason.INVALID_PRICE
        if (
            not market
            and c.post_only
            and c.time_in_force
            not in (TimeInForce.GTC, TimeInForce.GTD, TimeInForce.DAY)
        ):
            return RejectReason.INVALID_ORDER
        if c.quote_limit is not None and not (
            market and c.side == Side.BUY and is_positive(c.quote_limit)
        ):
            return RejectReason.INVALID_QUOTE_LIMIT
        if c.quantity is None:
            if c.quote_limit is None or c.time_in_force == TimeInForce.FOK:
                return RejectReason.INVALID_QUANTITY
        elif not is_positive(c.quantity):
            return RejectReason.INVALID_QUANTITY
        if is_stop(c.type) and has_trail(c):
            if c.stop_price is not None or None not in (c.trail_amount, c.trail_bps):
                return RejectReason.INVALID_TRAIL
            if c.trail_amount is not None and not is_positive(c.trail_amount):
                return RejectReason.INVALID_TRAIL
            if c.trail_bps is not None and not (
                type(c.trail_bps) is int and 0 < c.trail_bps < 10_000
            ):
                return RejectReason.INVALID_TRAIL
        elif is_stop(c.type):
            if not is_positive(c.stop_price):
                return RejectReason.INVALID_STOP_PRICE
        elif has_trail(c):
            return RejectReason.INVALID_TRAIL
        elif c.stop_price is not None:
            return RejectReason.INVALID_STOP_PRICE
        if gtd and (c.type == OrderType.MARKET or not is_positive(c.expire_at)):
            return RejectReason.INVALID_EXPIRY
        if not gtd and c.expire_at is not None:
            return RejectReason.INVALID_EXPIRY
        if c.oco_with is not None:
            return RejectReason.INVALID_OCO
        if is_stop(c.type) and has_trail(c):
            if self.last_price is None:
                return RejectReason.NO_REFERENCE_PRICE
            if not is_positive(trailed_stop(Side(c.side), self.last_price, c)):
                return RejectReason.INVALID_TRAIL
        return None

    def normalised(self, c: Place) -> Place:
        """The command with enum members for its plain strings, a market order's
        GTC (and a plain market order's DAY) read as IOC (a market order never
        rests; a DAY stop-market waits as DAY), and a trailing stop's stop price
        derived from the last price."""
        market = c.type in (OrderType.MARKET, OrderType.STOP_MARKET)
        tif = TimeInForce(c.time_in_force)
        if market and tif is TimeInForce.GTC:
            tif = TimeInForce.IOC
        if c.type == OrderType.MARKET and tif is TimeInForce.DAY:
            tif = TimeInForce.IOC
        c = c._replace(
            side=Side(c.side), type=OrderType(c.type), time_in_force=tif, stp=STP(c.stp)
        )
        if is_stop(c.type) and has_trail(c):
            c = c._replace(stop_price=trailed_stop(c.side, self.last_price or 0, c))
        return c

    def too_late(self, c: Place, out: list[Event]) -> bool:
        """A GTD order whose time has already passed is accepted and expired at
        once, untraded (it is not a rejection)."""
        if c.time_in_force is not TimeInForce.GTD or (c.expire_at or 0) > self.now:
            return False
        out.append(Accepted(self.seq, c.order_id, c.owner, False))
        out.append(
            self.done(
                c.order_id, c.owner, DoneReason.EXPIRED, DoneDetail.GTD,
                c.quantity or 0, 0,
            )
        )  # fmt: skip
        return True

    def place(
        self, command: Place, out: list[Event], oco_with: int | None = None
    ) -> None:
        if self.phase is Phase.CLOSED:
            out.append(
                self.rejected(command.order_id, "place", RejectReason.MARKET_CLOSED)
            )
            return
        why = self.validate(command)
        if why is not None:
            out.append(self.rejected(command.order_id, "place", why))
            return
        c = self.normalised(command)
        if self.too_late(c, out):
            return
        if self.phase is Phase.CALL and not is_stop(c.type):
            self.place_in_call(command, c, oco_with, out)
            return
        accepted = len(out)
        accepted_at = self.seq
        if is_stop(c.type):
            out.append(Accepted(accepted_at, c.order_id, c.owner, True))
            self.stops.append((self.next_arrival(), c))
        else:
            taker = Taker(
                c.order_id, c.owner, c.side, c.price, c.quantity, c.quote_limit,
                c.time_in_force, c.stp, c.post_only, 0, c.expire_at, oco_with,
            )  # fmt: skip
            why = self.refusal(taker)
            if why is not None:
                out.append(self.rejected(c.order_id, "place", why))
                return
            out.append(Accepted(accepted_at, c.order_id, c.owner, True))
            self.execute(taker, out)
        self.fire_stops(out)
        # Accepted comes first but says how the command ended: still open or not.
        out[accepted] = Accepted(
            accepted_at, c.order_id, c.owner, self.is_open(c.order_id)
        )

    def place_in_call(
        self, command: Place, c: Place, oco_with: int | None, out: list[Event]
    ) -> None:
        """In a call nothing matches: a limit order rests (crossed or not), a
        market order queues for the uncross; IOC and FOK are refused."""
        if TimeInForce(command.time_in_force) in (TimeInForce.IOC, TimeInForce.FOK):
            out.append(self.rejected(c.order_id, "place", RejectReason.NOT_IN_CALL))
            return
        out.append(Accepted(self.seq, c.order_id, c.owner, True))
        if c.type is OrderType.MARKET:
            self.markets.append((self.next_arrival(), c))
            return
        self.orders.append(
            Resting(
                c.order_id, c.owner, c.side, c.price or 0, c.quantity or 0, 0, c.stp,
                c.post_only, self.next_arrival(), c.expire_at, oco_with,
                c.time_in_force is TimeInForce.DAY,
            )
        )  # fmt: skip
        out.append(self.level_changed(c.side, c.price or 0))

    def place_oco(self, c: PlaceOco, out: list[Event]) -> None:
        """Check the pair whole; park the stop leg, then place the limit leg."""
        limit, stop = c.limit, c.stop
        if self.phase is Phase.CLOSED:
            order_id = limit.order_id if isinstance(limit, Place) else None
            out.append(self.rejected(order_id, "place", RejectReason.MARKET_CLOSED))
            return
        if type(limit) is not Place or type(stop) is not Place:
            order_id = limit.order_id if isinstance(limit, Place) else None
            out.append(self.rejected(order_id, "place", RejectReason.INVALID_OCO))
            return
        shaped = (
            limit.type == OrderType.LIMIT
            and is_stop(stop.type)
            and limit.order_id != stop.order_id
            and limit.owner == stop.owner
            and limit.side == stop.side
            and limit.quantity is not None
            and limit.quantity == stop.quantity
            and limit.time_in_force == stop.time_in_force
            and limit.time_in_force in (TimeInForce.GTC, TimeInForce.GTD)
            and limit.expire_at == stop.expire_at
        )
        why = None if shaped else RejectReason.INVALID_OCO
        why = why or self.validate(limit) or self.validate(stop)
        if why is None:
            parked = self.normalised(stop)
            last = self.last_price
            if last is not None and (
                (parked.side is Side.BUY and last >= (parked.stop_price or 0))
                or (parked.side is Side.SELL and last <= (parked.stop_price or 0))
            ):
                why = RejectReason.INVALID_STOP_PRICE  # it would trigger at once
        if why is not None:
            out.append(self.rejected(limit.order_id, "place", why))
            return
        if self.too_late(parked, out):
            self.too_late(self.normalised(limit), out)
            return
        if (self.phase is Phase.CONTINUOUS and limit.post_only) and any(
            Taker(0, 0, Side(limit.side), limit.price, 0, None, TimeInForce.GTC,
                  STP.EXPIRE_TAKER, True).crosses(o.price)
            for o in self.orders
            if o.side is not Side(limit.side)
        ):  # fmt: skip
            why = RejectReason.POST_ONLY_WOULD_TAKE
            out.append(self.rejected(limit.order_id, "place", why))
            return
        out.append(Accepted(self.seq, stop.order_id, stop.owner, True))
        self.stops.append(
            (self.next_arrival(), parked._replace(oco_with=limit.order_id))
        )
        self.place(limit, out, oco_with=stop.order_id)

    def expire_due(self, c: ExpireDue, out: list[Event]) -> None:
        """The clock moves to ``now`` (never back) and every order due by then
        expires, earliest expire_at first, then lowest id."""
        if type(c.now) is not int:
            out.append(self.rejected(None, "expire", RejectReason.INVALID_EXPIRY))
            return
        if c.now < self.now:
            return
        self.now = c.now
        due = sorted(
            [
                (o.expire_at, o.order_id)
                for o in self.orders
                if o.expire_at is not None and o.expire_at <= c.now
            ]
            + [
                (p.expire_at, p.order_id)
                for _, p in self.stops
                if p.expire_at is not None and p.expire_at <= c.now
            ]
        )
        due_ids = frozenset(order_id for _, order_id in due)
        for _, order_id in due:
            order = self.find(order_id)
            entry = self.find_stop(order_id)
            partner: int | None = None
            if order is not None:
                self.orders.remove(order)
                partner = order.oco_with
                out.append(
                    self.done(
                        order_id, order.owner, DoneReason.EXPIRED, DoneDetail.GTD,
                        order.remaining, order.filled,
                    )
                )  # fmt: skip
                out.append(self.level_changed(order.side, order.price))
            elif entry is not None:
                self.stops.remove(entry)
                place = entry[1]
                partner = place.oco_with
                out.append(
                    self.done(
                        order_id, place.owner, DoneReason.EXPIRED, DoneDetail.GTD,
                        place.quantity or 0, 0,
                    )
                )  # fmt: skip
            if partner is not None:
                self.cancel_partner(partner, out, due_ids)

    def expire_day(self, out: list[Event]) -> None:
        """The trading day is over: every open DAY order, resting or a waiting
        stop, expires, lowest id first."""
        due = sorted(
            [o.order_id for o in self.orders if o.day]
            + [p.order_id for _, p in self.stops if p.time_in_force is TimeInForce.DAY]
        )
        for order_id in due:
            order = self.find(order_id)
            entry = self.find_stop(order_id)
            if order is not None:
                self.orders.remove(order)
                out.append(
                    self.done(
                        order_id, order.owner, DoneReason.EXPIRED, DoneDetail.DAY,
                        order.remaining, order.filled,
                    )
                )  # fmt: skip
                out.append(self.level_changed(order.side, order.price))
            elif entry is not None:
                self.stops.remove(entry)
                place = entry[1]
                out.append(
                    self.done(
                        order_id, place.owner, DoneReason.EXPIRED, DoneDetail.DAY,
                        place.quantity or 0, 0,
                    )
                )  # fmt: skip

    def cancel(self, c: Cancel, out: list[Event]) -> None:
        order = self.find(c.order_id) if type(c.order_id) is int else None
        stop = self.find_stop(c.order_id) if type(c.order_id) is int else None
        if order is not None:
            self.orders.remove(order)
            out.append(
                self.done(
                    order.order_id, order.owner, DoneReason.CANCELLED,
                    DoneDetail.USER, order.remaining, order.filled,
                )
            )  # fmt: skip
            out.append(self.level_changed(order.side, order.price))
            self.unlink_and_cancel_partner(order, out)
        elif stop is not None:
            self.stops.remove(stop)
            place = stop[1]
            out.append(
                self.done(
                    place.order_id, place.owner, DoneReason.CANCELLED,
                    DoneDetail.USER, place.quantity or 0, 0,
                )
            )  # fmt: skip
            if place.oco_with is not None:
                self.cancel_partner(place.oco_with, out)
        elif type(c.order_id) is int and self.find_market(c.order_id) is not None:
            entry = self.find_market(c.order_id)
            assert entry is not None
            self.markets.remove(entry)
            place = entry[1]
            out.append(
                self.done(
                    place.order_id, place.owner, DoneReason.CANCELLED,
                    DoneDetail.USER, place.quantity or 0,
                    self.market_filled.pop(place.order_id, 0),
                )
            )  # fmt: skip
        else:
            out.append(self.rejected(c.order_id, "cancel", RejectReason.UNKNOWN_ORDER))

    def amend(self, c: Amend, out: list[Event]) -> None:
        if self.phase is Phase.CLOSED:
            out.append(self.rejected(c.order_id, "amend", RejectReason.MARKET_CLOSED))
            return
        order = self.find(c.order_id) if type(c.order_id) is int else None
        if order is None:
            waiting = type(c.order_id) is int and (
                self.find_stop(c.order_id) is not None
                or self.find_market(c.order_id) is not None
            )
            why = RejectReason.NOT_AMENDABLE if waiting else RejectReason.UNKNOWN_ORDER
            out.append(self.rejected(c.order_id, "amend", why))
            return
        if order.oco_with is not None:
            out.append(self.rejected(c.order_id, "amend", RejectReason.NOT_AMENDABLE))
            return
        if c.new_price is None and c.new_quantity is None:
            out.append(
                self.rejected(c.order_id, "amend", RejectReason.NOTHING_TO_AMEND)
            )
            return
        if c.new_price is not None and not is_positive(c.new_price):
            out.append(self.rejected(c.order_id, "amend", RejectReason.INVALID_PRICE))
            return
        if c.new_quantity is not None and not is_positive(c.new_quantity):
            out.append(
                self.rejected(c.order_id, "amend", RejectReason.INVALID_QUANTITY)
            )
            return
        price = order.price if c.new_price is None else c.new_price
        quantity = order.remaining if c.new_quantity is None else c.new_quantity
        if price == order.price and quantity <= order.remaining:
            # A cut (or no change) keeps the order's place in the queue.
            cut = order.remaining - quantity
            order.remaining = quantity
            out.append(
                Amended(self.seq, order.order_id, order.owner, price, quantity, True)
            )
            if cut:
                out.append(self.level_changed(order.side, price))
            return
        # Anything else re-enters at the back as a GTC (or DAY) limit order and
        # may trade.
        taker = Taker(
            order.order_id, order.owner, order.side, price, quantity, None,
            TimeInForce.DAY if order.day else TimeInForce.GTC, order.stp,
            order.post_only, order.filled, order.expire_at,
        )  # fmt: skip
        if self.phase is Phase.CALL:  # re-queued at the back, nothing matches
            out.append(
                Amended(self.seq, order.order_id, order.owner, price, quantity, False)
            )
            self.orders.remove(order)
            out.append(self.level_changed(order.side, order.price))
            order.price, order.remaining = price, quantity
            order.arrival = self.next_arrival()
            self.orders.append(order)
            out.append(self.level_changed(order.side, price))
            return
        if order.post_only and any(
            taker.crosses(o.price) for o in self.orders if o.side is not order.side
        ):
            out.append(
                self.rejected(c.order_id, "amend", RejectReason.POST_ONLY_WOULD_TAKE)
            )
            return
        out.append(
            Amended(self.seq, order.order_id, order.owner, price, quantity, False)
        )
        self.orders.remove(order)
        out.append(self.level_changed(order.side, order.price))
        self.execute(taker, out)
        self.fire_stops(out)
