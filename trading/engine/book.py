"""The order book: price-time matching, stops, amend, depth.

Layout, chosen for speed in CPython and under mypyc:

* each side is a dict ``price -> Level`` plus a sorted list of integer keys with
  the best price *last* (bids: ``price``; asks: ``-price``), so the touch is
  ``keys[-1]``, removing it is ``pop()`` and new levels near the touch insert near
  the end;
* a ``Level`` is a list of orders with a head index: fills advance the head, a
  cancel zeroes the order in place (lazy deletion) and the list is compacted when
  dead entries pile up, so every operation is amortised O(1);
* stops wait in two heaps keyed by (stop price, arrival), with lazy deletion.

The module is pure (no clock, randomness or I/O) so the same commands always give
the same events.
"""

from bisect import bisect_left, insort
from collections.abc import Iterable
from heapq import heappop, heappush
from typing import Final

from trading.engine import snapshot as snapshots
from trading.engine.commands import Amend, Cancel, Command, Place, RestingOrder
from trading.engine.compat import mypyc_attr
from trading.engine.events import (
    Accepted,
    Amended,
    Event,
    LevelChanged,
    OrderDone,
    Rejected,
    StopTriggered,
    Trade,
)
from trading.engine.types import (
    MAX_VALUE,
    STP,
    DoneDetail,
    DoneReason,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)

BUY: Final = Side.BUY
SELL: Final = Side.SELL
LIMIT: Final = OrderType.LIMIT
MARKET: Final = OrderType.MARKET
STOP_LIMIT: Final = OrderType.STOP_LIMIT
STOP_MARKET: Final = OrderType.STOP_MARKET
GTC: Final = TimeInForce.GTC
IOC: Final = TimeInForce.IOC
FOK: Final = TimeInForce.FOK
EXPIRE_TAKER: Final = STP.EXPIRE_TAKER
EXPIRE_BOTH: Final = STP.EXPIRE_BOTH
FILLED: Final = DoneReason.FILLED
CANCELLED: Final = DoneReason.CANCELLED
EXPIRED: Final = DoneReason.EXPIRED
D_NONE: Final = DoneDetail.NONE
D_USER: Final = DoneDetail.USER
D_IOC: Final = DoneDetail.IOC
D_FOK: Final = DoneDetail.FOK
D_STP: Final = DoneDetail.STP
D_NO_LIQUIDITY: Final = DoneDetail.NO_LIQUIDITY
D_QUOTE_LIMIT: Final = DoneDetail.QUOTE_LIMIT
D_POST_ONLY: Final = DoneDetail.POST_ONLY

#: Key below every real key: the "limit" of a market order.
NO_LIMIT: Final = -(1 << 63)
#: Quantity of a market buy bounded only by its quote limit.
UNBOUNDED: Final = 1 << 63
#: Quote of an order without a quote limit.
NO_QUOTE: Final = -1
#: A level is compacted once it holds this many more dead entries than live ones.
COMPACT_SLACK: Final = 32

# Keys are the members themselves: a lookup by member hits on identity, and a
# plain equal string ("buy") still finds it.
_SIDES: Final[dict[object, Side]] = {m: m for m in Side}
_TYPES: Final[dict[object, OrderType]] = {m: m for m in OrderType}
_TIFS: Final[dict[object, TimeInForce]] = {m: m for m in TimeInForce}
_STPS: Final[dict[object, STP]] = {m: m for m in STP}
_EXPIRY_OF_REJECT: Final[dict[RejectReason, DoneDetail]] = {
    RejectReason.POST_ONLY_WOULD_TAKE: D_POST_ONLY,
    RejectReason.FOK_NOT_FILLABLE: D_FOK,
    RejectReason.NO_LIQUIDITY: D_NO_LIQUIDITY,
}
# Command classes bound once: compiled code then compares against a constant
# instead of looking the name up in the module globals on every command.
_PLACE: Final = Place
_CANCEL: Final = Cancel
_AMEND: Final = Amend
#: Stands in for the Accepted event until the command knows whether the order rests.
_PENDING: Final = Event()


@mypyc_attr(acyclic=True)  # refers to ints and enums only: not GC-tracked
class Order:
    """A resting limit order. ``remaining == 0`` marks a dead queue entry."""

    __slots__ = (
        "filled",
        "order_id",
        "owner",
        "post_only",
        "price",
        "remaining",
        "side",
        "stp",
    )

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
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.side = side
        self.price = price
        self.remaining = remaining
        self.filled = filled
        self.stp = stp
        self.post_only = post_only

    def as_resting(self) -> RestingOrder:
        return RestingOrder(
            self.order_id,
            self.owner,
            self.side,
            self.price,
            self.remaining,
            self.filled,
            self.stp,
            self.post_only,
        )


@mypyc_attr(acyclic=True)  # refers to its list of orders, never back
class Level:
    """Orders at one price in time priority; ``orders[head:]`` may hold dead ones."""

    __slots__ = ("head", "live", "orders", "total")

    def __init__(self) -> None:
        self.total = 0
        self.live = 0
        self.head = 0
        self.orders: list[Order] = []

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders[self.head :] if o.remaining]

    def compact(self) -> None:
        self.orders = self.open_orders()
        self.head = 0


@mypyc_attr(acyclic=True)  # refers to ints, enums and the caller's int objects
class Taker:
    """An accepted order on its way in: what ``_execute`` matches and then rests,
    fills or expires. Loaded by a new place, a repriced amend and a fired stop.

    Each book owns one and reloads it for every order it executes, as
    exchange-core reuses its ``OrderCommand`` objects: no allocation (and, when
    interpreted, no garbage-collected object) per command. One is enough because
    an execution never starts another before it ends: stops fire after it.

    ``price`` 0 means market, ``lots`` UNBOUNDED means bounded by quote only,
    ``quote`` NO_QUOTE means no quote limit; ``filled`` carries over an amended
    order's earlier fills. ``key`` and ``price_key`` are ``order_id`` and ``price``
    as the caller's own objects, used as dict keys so that compiled code need not
    box a new int per lookup.
    """

    __slots__ = (
        "filled",
        "key",
        "lots",
        "order_id",
        "owner",
        "post_only",
        "price",
        "price_key",
        "quote",
        "side",
        "stp",
        "tif",
    )

    def __init__(self) -> None:
        self.order_id = 0
        self.key: object = 0
        self.owner = 0
        self.side = BUY
        self.price = 0
        self.price_key: object = 0
        self.lots = 0
        self.quote = NO_QUOTE
        self.tif = GTC
        self.stp = EXPIRE_TAKER
        self.post_only = False
        self.filled = 0

    def load(
        self,
        order_id: int,
        key: object,
        owner: int,
        side: Side,
        price: int,
        price_key: object,
        lots: int,
        quote: int,
        tif: TimeInForce,
        stp: STP,
        post_only: bool,
        filled: int,
    ) -> "Taker":
        self.order_id = order_id
        self.key = key
        self.owner = owner
        self.side = side
        self.price = price
        self.price_key = price_key
        self.lots = lots
        self.quote = quote
        self.tif = tif
        self.stp = stp
        self.post_only = post_only
        self.filled = filled
        return self


class OrderBook:
    """One instrument's book. Feed it commands, get events back."""

    def __init__(
        self,
        symbol: str | int = "",
        sequence: int = 0,
        last_price: int | None = None,
    ) -> None:
        self.symbol = symbol
        self._seq = sequence
        self._last_price = last_price
        # Keyed by int prices, typed object for the same reason as the index below.
        self._bids: dict[object, Level] = {}
        self._asks: dict[object, Level] = {}
        self._bid_keys: list[int] = []  # prices ascending: best bid last
        self._ask_keys: list[int] = []  # -price ascending: best ask last
        # Keys are int order ids, typed object so that compiled code can use the
        # caller's int objects as they are instead of boxing a copy per lookup.
        self._orders: dict[object, Order] = {}
        self._stops: dict[object, tuple[int, Place]] = {}  # id -> (arrival, place)
        self._buy_stops: list[tuple[int, int, int]] = []  # (stop, arrival, id)
        self._sell_stops: list[tuple[int, int, int]] = []  # (-stop, arrival, id)
        self._arrival = 0
        self._taker = Taker()

    # ------------------------------------------------------------ state, rebuild

    @classmethod
    def from_resting(
        cls,
        symbol: str | int,
        orders: Iterable[RestingOrder],
        stops: Iterable[Place] = (),
        sequence: int = 0,
        last_price: int | None = None,
    ) -> "OrderBook":
        """Rebuild a book from open orders in time priority (oldest first) and
        waiting stops in arrival order, e.g. from database rows after a crash.

        Nothing is matched: check ``is_crossed()`` before trusting the result.
        Raises ValueError on malformed or duplicate orders.
        """
        book = cls(symbol, sequence, last_price)
        for order in orders:
            book._load_order(order)
        for stop in stops:
            book._load_stop(stop)
        book._seq = sequence  # loading emitted no event: the sequence is unchanged
        return book

    @classmethod
    def restore(cls, snapshot: dict[str, object]) -> "OrderBook":
        """The book a ``snapshot()`` was taken from, ready to go on."""
        symbol, sequence, last_price, orders, stops = snapshots.decode(snapshot)
        return cls.from_resting(symbol, orders, stops, sequence, last_price)

    def snapshot(self) -> dict[str, object]:
        """The whole book as plain JSON-serialisable data."""
        return snapshots.encode(
            self.symbol,
            self._seq,
            self._last_price,
            self.resting_orders(BUY),
            self.resting_orders(SELL),
            self.stop_orders(),
        )

    def state_hash(self) -> str:
        """Hex SHA-256 of the canonical snapshot: equal books, equal hashes."""
        return snapshots.digest(self.snapshot())

    def _load_order(self, order: RestingOrder) -> None:
        order_id, owner, side, price, quantity, filled, stp, post_only = order
        if (
            type(order_id) is not int
            or order_id in self._orders
            or order_id in self._stops
        ):
            raise ValueError(f"bad or duplicate order id {order_id!r}")
        if _SIDES.get(side) is None or _STPS.get(stp) is None:
            raise ValueError(f"order {order_id}: bad side or stp")
        if not 0 < price < MAX_VALUE or not 0 < quantity < MAX_VALUE or filled < 0:
            raise ValueError(f"order {order_id}: bad price, quantity or filled")
        self._rest(
            Order(
                order_id, owner, _SIDES[side], price, quantity, filled, _STPS[stp],
                bool(post_only),
            ),
            order_id,
            price,
            [],
        )  # fmt: skip

    def _load_stop(self, stop: Place) -> None:
        if stop.order_id in self._orders or stop.order_id in self._stops:
            raise ValueError(f"duplicate order id {stop.order_id!r}")
        probe = OrderBook()
        events = probe.process(stop)
        if type(events[0]) is not Accepted or stop.order_id not in probe._stops:
            raise ValueError(f"stop {stop.order_id}: invalid ({events[0]!r})")
        self._arrival += 1
        self._add_stop(probe._stops[stop.order_id][1], self._arrival)

    # ------------------------------------------------------------------ reading

    @property
    def sequence(self) -> int:
        return self._seq

    @property
    def last_trade_price(self) -> int | None:
        return self._last_price

    def best_bid(self) -> int | None:
        return self._bid_keys[-1] if self._bid_keys else None

    def best_ask(self) -> int | None:
        return -self._ask_keys[-1] if self._ask_keys else None

    def is_crossed(self) -> bool:
        """True if the best bid is at or above the best ask (a corrupt rebuild)."""
        bid = self.best_bid()
        ask = self.best_ask()
        return bid is not None and ask is not None and bid >= ask

    def depth(
        self, levels: int = 10
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Top ``levels`` (price, total quantity) per side, best first."""
        if levels <= 0:
            return [], []
        bids = [(k, self._bids[k].total) for k in reversed(self._bid_keys[-levels:])]
        asks = [(-k, self._asks[-k].total) for k in reversed(self._ask_keys[-levels:])]
        return bids, asks

    def get_order(self, order_id: int) -> RestingOrder | None:
        """The order as it rests on the book, or None."""
        order = self._orders.get(order_id)
        return None if order is None else order.as_resting()

    def get_stop(self, order_id: int) -> Place | None:
        """The stop order waiting in the stop book, or None."""
        entry = self._stops.get(order_id)
        return None if entry is None else entry[1]

    def resting_orders(self, side: Side) -> list[RestingOrder]:
        """Every order of one side, best price first, then time priority."""
        keys = self._bid_keys if side is BUY else self._ask_keys
        levels = self._bids if side is BUY else self._asks
        sign = 1 if side is BUY else -1
        return [
            order.as_resting()
            for key in reversed(keys)
            for order in levels[sign * key].open_orders()
        ]

    def stop_orders(self) -> list[Place]:
        """Waiting stops in arrival order."""
        return [place for _, place in sorted(self._stops.values())]

    def open_order_count(self) -> int:
        return len(self._orders) + len(self._stops)

    # ----------------------------------------------------------------- commands

    def process(self, command: Command) -> list[Event]:
        """Apply one command; return every event it caused, in order."""
        events: list[Event] = []
        if type(command) is _PLACE:  # the usual command, without the extra call
            self._place(command, events)
        else:
            self._dispatch(command, events)
        return events

    def process_many(self, commands: Iterable[Command]) -> list[Event]:
        """Apply commands in order; one flat list of events (cheaper per command)."""
        events: list[Event] = []
        if isinstance(commands, list):  # the usual case: compiled code indexes it
            for command in commands:
                self._dispatch(command, events)
        else:
            for command in commands:
                self._dispatch(command, events)
        return events

    def _dispatch(self, command: Command, events: list[Event]) -> None:
        kind = type(command)
        if kind is _PLACE:
            self._place(command, events)  # type: ignore[arg-type]
        elif kind is _CANCEL:
            self._cancel(command, events)  # type: ignore[arg-type]
        elif kind is _AMEND:
            self._amend(command, events)  # type: ignore[arg-type]
        else:
            events.append(
                Rejected(self._seq, None, "unknown", RejectReason.UNKNOWN_COMMAND)
            )

    def _reject(
        self, events: list[Event], order_id: object, command: str, why: RejectReason
    ) -> None:
        events.append(Rejected(self._seq, order_id, command, why))

    # -------------------------------------------------------------------- place

    def _place(self, command: Place, events: list[Event]) -> None:
        """Validate (fields are read as plain objects, so a wrong type is a
        rejection in both builds), then match and rest, or park a stop."""
        raw: tuple[object, ...] = command
        order_id = raw[0]
        key = raw[0]  # kept as an object: dict lookups need no re-boxing
        owner = raw[1]
        # Identity tests first: the enum members themselves are the common case and
        # cost a pointer comparison; anything else (an equal plain string, or
        # garbage) goes through the lookup tables.
        field = raw[2]
        side = BUY if field is BUY else SELL if field is SELL else _SIDES.get(field)
        field = raw[3]
        order_type = LIMIT if field is LIMIT else _TYPES.get(field)
        price = raw[4]
        quantity = raw[5]
        field = raw[6]
        tif = GTC if field is GTC else _TIFS.get(field)
        post_only = raw[7]
        stop_price = raw[8]
        quote_limit = raw[9]
        field = raw[10]
        stp = EXPIRE_TAKER if field is EXPIRE_TAKER else _STPS.get(field)
        if (
            type(order_id) is not int
            or type(owner) is not int
            or side is None
            or order_type is None
            or tif is None
            or stp is None
            or type(post_only) is not bool
        ):
            return self._reject(events, order_id, "place", RejectReason.INVALID_ORDER)
        if key in self._orders or (self._stops and key in self._stops):
            return self._reject(
                events, order_id, "place", RejectReason.DUPLICATE_ORDER_ID
            )
        is_market = order_type is MARKET or order_type is STOP_MARKET
        limit_price = 0
        if is_market:
            if price is not None:
                return self._reject(
                    events, order_id, "place", RejectReason.INVALID_PRICE
                )
            if post_only:
                return self._reject(
                    events, order_id, "place", RejectReason.INVALID_ORDER
                )
            if tif is GTC:
                tif = IOC
        else:
            if type(price) is not int or not 0 < price < MAX_VALUE:
                return self._reject(
                    events, order_id, "place", RejectReason.INVALID_PRICE
                )
            if post_only and tif is not GTC:
                return self._reject(
                    events, order_id, "place", RejectReason.INVALID_ORDER
                )
            limit_price = price
        quote = NO_QUOTE
        if quote_limit is not None:
            if (
                not is_market
                or side is not BUY
                or type(quote_limit) is not int
                or not 0 < quote_limit < MAX_VALUE
            ):
                return self._reject(
                    events, order_id, "place", RejectReason.INVALID_QUOTE_LIMIT
                )
            quote = quote_limit
        lots = UNBOUNDED
        if quantity is None:
            if quote_limit is None or tif is FOK:
                return self._reject(
                    events, order_id, "place", RejectReason.INVALID_QUANTITY
                )
        elif type(quantity) is not int or not 0 < quantity < MAX_VALUE:
            return self._reject(
                events, order_id, "place", RejectReason.INVALID_QUANTITY
            )
        else:
            lots = quantity
        if order_type is STOP_LIMIT or order_type is STOP_MARKET:
            if type(stop_price) is not int or not 0 < stop_price < MAX_VALUE:
                return self._reject(
                    events, order_id, "place", RejectReason.INVALID_STOP_PRICE
                )
            stop = Place(
                order_id,
                owner,
                side,
                order_type,
                None if is_market else limit_price,
                None if lots == UNBOUNDED else lots,
                tif,
                post_only,
                stop_price,
                None if quote == NO_QUOTE else quote,
                stp,
            )
            return self._place_stop(stop, events)
        if stop_price is not None:
            return self._reject(
                events, order_id, "place", RejectReason.INVALID_STOP_PRICE
            )
        # Filled in place rather than through load(): a call frame per place
        # cost about 4% of the interpreted build's latency (measured).
        taker = self._taker
        taker.order_id = order_id
        taker.key = key
        taker.owner = owner
        taker.side = side
        taker.price = limit_price
        taker.price_key = price
        taker.lots = lots
        taker.quote = quote
        taker.tif = tif
        taker.stp = stp
        taker.post_only = post_only
        taker.filled = 0
        if post_only or is_market or tif is FOK:
            why = self._precheck(taker)
            if why is not None:
                return self._reject(events, order_id, "place", why)
        slot = len(events)
        events.append(_PENDING)
        accepted_at = self._seq
        rests = self._execute(taker, events)
        if self._stops and self._run_stops(events):
            rests = order_id in self._orders  # a fired stop may have taken it
        events[slot] = Accepted(accepted_at, order_id, owner, rests)

    def _precheck(self, taker: Taker) -> RejectReason | None:
        """Refusals that must leave no trace: post-only, FOK, empty market."""
        side = taker.side
        price = taker.price
        keys = self._ask_keys if side is BUY else self._bid_keys
        if not keys:
            if not price:
                return RejectReason.NO_LIQUIDITY
            return RejectReason.FOK_NOT_FILLABLE if taker.tif is FOK else None
        limit_key = NO_LIMIT if not price else (-price if side is BUY else price)
        if taker.post_only and keys[-1] >= limit_key:
            return RejectReason.POST_ONLY_WOULD_TAKE
        if taker.tif is FOK and not self._fillable(taker, limit_key):
            return RejectReason.FOK_NOT_FILLABLE
        return None

    def _fillable(self, taker: Taker, limit_key: int) -> bool:
        """Would the whole quantity fill? Walks the book as matching would, with
        self-trade prevention: an own order ends the walk unless mode is
        expire_maker (then it is skipped, as matching would remove it)."""
        side = taker.side
        owner = taker.owner
        quote = taker.quote
        keys = self._ask_keys if side is BUY else self._bid_keys
        levels = self._asks if side is BUY else self._bids
        sign = -1 if side is BUY else 1
        need = taker.lots
        for index in range(len(keys) - 1, -1, -1):
            key = keys[index]
            if key < limit_key:
                return False
            price = sign * key
            for order in levels[price].orders:
                left = order.remaining
                if not left:
                    continue
                if order.owner == owner:
                    if taker.stp is STP.EXPIRE_MAKER:
                        continue
                    return False
                take = left if left < need else need  # noqa: FURB136 (no call)
                if quote >= 0:
                    if quote // price < take:
                        return False
                    quote -= take * price
                need -= take
                if not need:
                    return True
        return False

    def _execute(self, taker: Taker, events: list[Event]) -> bool:
        """Match an accepted order, then rest, fill or expire what is left; True
        if it rests."""
        # Locals for what the loop reads on every fill.
        order_id = taker.order_id
        owner = taker.owner
        side = taker.side
        price = taker.price
        lots = taker.lots
        quote = taker.quote
        stp = taker.stp
        filled = taker.filled
        if side is BUY:
            opp_keys = self._ask_keys
            opp_levels = self._asks
            opp_side = SELL
            sign = -1
            limit_key = -price if price else NO_LIMIT
        else:
            opp_keys = self._bid_keys
            opp_levels = self._bids
            opp_side = BUY
            sign = 1
            limit_key = price if price else NO_LIMIT
        remaining = lots
        detail = D_NONE
        if opp_keys and opp_keys[-1] >= limit_key:
            index = self._orders
            seq = self._seq
            last = 0
            while opp_keys:
                best_key = opp_keys[-1]
                if best_key < limit_key:
                    break
                level_price = sign * best_key
                level = opp_levels[level_price]
                orders = level.orders
                head = level.head
                total = level.total
                live = level.live
                while live:
                    maker = orders[head]
                    maker_left = maker.remaining
                    if not maker_left:
                        head += 1
                        continue
                    if maker.owner == owner:
                        if stp is EXPIRE_TAKER:
                            detail = D_STP
                            break
                        head += 1
                        live -= 1
                        total -= maker_left
                        maker.remaining = 0
                        del index[maker.order_id]
                        events.append(
                            OrderDone(
                                seq, maker.order_id, owner, EXPIRED, D_STP,
                                maker_left, maker.filled,
                            )
                        )  # fmt: skip
                        if stp is EXPIRE_BOTH:
                            detail = D_STP
                            break
                        continue
                    fill = remaining if remaining < maker_left else maker_left  # noqa: FURB136
                    if quote >= 0:
                        affordable = quote // level_price
                        if affordable < fill:
                            if not affordable:
                                detail = D_QUOTE_LIMIT
                                break
                            fill = affordable
                        quote -= fill * level_price
                    seq += 1
                    events.append(
                        Trade(
                            seq, maker.order_id, order_id, maker.owner, owner,
                            level_price, fill, side,
                        )
                    )  # fmt: skip
                    last = level_price
                    remaining -= fill
                    filled += fill
                    total -= fill
                    maker.filled += fill
                    if fill == maker_left:
                        maker.remaining = 0
                        head += 1
                        live -= 1
                        del index[maker.order_id]
                        events.append(
                            OrderDone(
                                seq, maker.order_id, maker.owner, FILLED, D_NONE, 0,
                                maker.filled,
                            )
                        )  # fmt: skip
                    else:
                        maker.remaining = maker_left - fill
                    if not remaining:
                        break
                if total != level.total:
                    seq += 1
                    events.append(LevelChanged(seq, opp_side, level_price, total))
                if live:
                    level.total = total
                    level.live = live
                    level.head = head
                    if head > COMPACT_SLACK and head + head > len(orders):
                        level.compact()
                else:
                    opp_keys.pop()
                    del opp_levels[level_price]
                if detail is not D_NONE or not remaining:
                    break
            self._seq = seq
            if last:
                self._last_price = last
        if not remaining:
            events.append(
                OrderDone(self._seq, order_id, owner, FILLED, D_NONE, 0, filled)
            )
            return False
        left = 0 if lots == UNBOUNDED else remaining
        if detail is not D_NONE:
            events.append(
                OrderDone(self._seq, order_id, owner, EXPIRED, detail, left, filled)
            )
        elif not price:
            events.append(
                OrderDone(
                    self._seq, order_id, owner, EXPIRED, D_NO_LIQUIDITY, left, filled
                )
            )
        elif taker.tif is not GTC:
            expiry = D_IOC if taker.tif is IOC else D_FOK
            events.append(
                OrderDone(self._seq, order_id, owner, EXPIRED, expiry, left, filled)
            )
        else:
            self._rest(
                Order(
                    order_id,
                    owner,
                    side,
                    price,
                    remaining,
                    filled,
                    stp,
                    taker.post_only,
                ),
                taker.key,
                taker.price_key,
                events,
            )
            return True
        return False

    def _rest(
        self, order: Order, key: object, price_key: object, events: list[Event]
    ) -> None:
        """Queue an order at the back of its level (``key``, ``price_key``: its id
        and price as objects, for the dicts)."""
        price = order.price
        if order.side is BUY:
            levels = self._bids
            level = levels.get(price_key)
            if level is None:
                level = levels[price_key] = Level()
                insort(self._bid_keys, price)
        else:
            levels = self._asks
            level = levels.get(price_key)
            if level is None:
                level = levels[price_key] = Level()
                insort(self._ask_keys, -price)
        level.orders.append(order)
        level.live += 1
        level.total += order.remaining
        self._orders[key] = order
        self._seq += 1
        events.append(LevelChanged(self._seq, order.side, price, level.total))

    def _unlink(self, order: Order, events: list[Event]) -> None:
        """Take a resting order off its level (the caller drops it from the index)."""
        price = order.price
        if order.side is BUY:
            levels = self._bids
            keys = self._bid_keys
            key = price
        else:
            levels = self._asks
            keys = self._ask_keys
            key = -price
        level = levels[price]
        level.total -= order.remaining
        level.live -= 1
        order.remaining = 0
        self._seq += 1
        events.append(LevelChanged(self._seq, order.side, price, level.total))
        if not level.live:
            del levels[price]
            del keys[bisect_left(keys, key)]
        elif len(level.orders) - level.head > level.live + level.live + COMPACT_SLACK:
            level.compact()

    # ------------------------------------------------------------ cancel, amend

    def _cancel(self, command: Cancel, events: list[Event]) -> None:
        raw: tuple[object, ...] = command
        order_id = raw[0]
        key = raw[0]  # kept as an object: dict lookups need no re-boxing
        if type(order_id) is not int:
            return self._reject(events, order_id, "cancel", RejectReason.UNKNOWN_ORDER)
        order = self._orders.get(key)  # get + del: both compiled primitives
        if order is not None:
            del self._orders[key]
            left = order.remaining
            events.append(
                OrderDone(
                    self._seq, order_id, order.owner, CANCELLED, D_USER, left,
                    order.filled,
                )
            )  # fmt: skip
            self._unlink(order, events)
            return
        entry = self._stops.get(key)
        if entry is None:
            return self._reject(events, order_id, "cancel", RejectReason.UNKNOWN_ORDER)
        del self._stops[key]
        stop = entry[1]
        events.append(
            OrderDone(
                self._seq,
                order_id,
                stop.owner,
                CANCELLED,
                D_USER,
                stop.quantity or 0,
                0,
            )
        )

    def _amend(self, command: Amend, events: list[Event]) -> None:
        raw: tuple[object, ...] = command
        order_id = raw[0]
        new_price = raw[1]
        new_quantity = raw[2]
        if type(order_id) is not int:
            return self._reject(events, order_id, "amend", RejectReason.UNKNOWN_ORDER)
        order = self._orders.get(order_id)
        if order is None:
            why = (
                RejectReason.NOT_AMENDABLE
                if order_id in self._stops
                else RejectReason.UNKNOWN_ORDER
            )
            return self._reject(events, order_id, "amend", why)
        if new_price is None and new_quantity is None:
            return self._reject(
                events, order_id, "amend", RejectReason.NOTHING_TO_AMEND
            )
        price = order.price
        if new_price is not None:
            if type(new_price) is not int or not 0 < new_price < MAX_VALUE:
                return self._reject(
                    events, order_id, "amend", RejectReason.INVALID_PRICE
                )
            price = new_price
        quantity = order.remaining
        if new_quantity is not None:
            if type(new_quantity) is not int or not 0 < new_quantity < MAX_VALUE:
                return self._reject(
                    events, order_id, "amend", RejectReason.INVALID_QUANTITY
                )
            quantity = new_quantity
        if price == order.price and quantity <= order.remaining:
            self._amend_in_place(order, quantity, events)
            return
        side = order.side
        if order.post_only:
            keys = self._ask_keys if side is BUY else self._bid_keys
            if keys and keys[-1] >= (-price if side is BUY else price):
                return self._reject(
                    events, order_id, "amend", RejectReason.POST_ONLY_WOULD_TAKE
                )
        events.append(Amended(self._seq, order_id, order.owner, price, quantity, False))
        del self._orders[order_id]
        self._unlink(order, events)
        taker = self._taker.load(
            order_id, order_id, order.owner, side, price, price, quantity, NO_QUOTE,
            GTC, order.stp, order.post_only, order.filled,
        )  # fmt: skip
        self._execute(taker, events)
        if self._stops:
            self._run_stops(events)

    def _amend_in_place(self, order: Order, quantity: int, events: list[Event]) -> None:
        """A quantity cut (or no change) keeps the order's place in the queue."""
        cut = order.remaining - quantity
        order.remaining = quantity
        events.append(
            Amended(self._seq, order.order_id, order.owner, order.price, quantity, True)
        )
        if cut:
            level = (self._bids if order.side is BUY else self._asks)[order.price]
            level.total -= cut
            self._seq += 1
            events.append(LevelChanged(self._seq, order.side, order.price, level.total))

    # -------------------------------------------------------------------- stops

    def _place_stop(self, stop: Place, events: list[Event]) -> None:
        slot = len(events)
        events.append(_PENDING)
        accepted_at = self._seq
        self._arrival += 1
        self._add_stop(stop, self._arrival)
        self._run_stops(events)
        order_id = stop.order_id
        events[slot] = Accepted(
            accepted_at,
            order_id,
            stop.owner,
            order_id in self._stops or order_id in self._orders,
        )

    def _add_stop(self, stop: Place, arrival: int) -> None:
        stop_price = stop.stop_price or 0
        self._stops[stop.order_id] = (arrival, stop)
        if stop.side is BUY:
            heappush(self._buy_stops, (stop_price, arrival, stop.order_id))
        else:
            heappush(self._sell_stops, (-stop_price, arrival, stop.order_id))

    def _next_triggered(self, last: int) -> Place | None:
        """The stop to fire next at this last price, in the documented order: buy
        stops (lowest stop price first) before sell stops (highest first), ties by
        arrival. The price test comes first: if the top of a heap is not
        triggered nothing under it is, live or not, so the common case costs no
        lookup. Stale entries (cancelled stops) are popped on the way."""
        stops = self._stops
        buys = self._buy_stops
        while buys and buys[0][0] <= last:
            _, arrival, order_id = heappop(buys)
            entry = stops.get(order_id)
            if entry is not None and entry[0] == arrival:
                del stops[order_id]
                return entry[1]
        sells = self._sell_stops
        while sells and -sells[0][0] >= last:
            _, arrival, order_id = heappop(sells)
            entry = stops.get(order_id)
            if entry is not None and entry[0] == arrival:
                del stops[order_id]
                return entry[1]
        return None

    def _run_stops(self, events: list[Event]) -> bool:
        """Fire stops one at a time until none is triggered by the last price; each
        fired order may trade and move the price, so the test is redone each time.
        True if any fired."""
        fired = False
        while self._stops and self._last_price is not None:
            last = self._last_price
            stop = self._next_triggered(last)
            if stop is None:
                break
            fired = True
            order_id, owner, side, _, price, quantity = stop[:6]
            tif, post_only, stop_price, quote_limit, stp = stop[6:]
            events.append(
                StopTriggered(self._seq, order_id, owner, stop_price or 0, last)
            )
            limit_price = price or 0
            taker = self._taker.load(
                order_id, order_id, owner, side, limit_price, limit_price,
                UNBOUNDED if quantity is None else quantity,
                NO_QUOTE if quote_limit is None else quote_limit,
                tif, stp, post_only, 0,
            )  # fmt: skip
            why = None
            if post_only or not limit_price or tif is FOK:
                why = self._precheck(taker)
            if why is not None:
                left = 0 if quantity is None else quantity
                events.append(
                    OrderDone(
                        self._seq, order_id, owner, EXPIRED, _EXPIRY_OF_REJECT[why],
                        left, 0,
                    )
                )  # fmt: skip
                continue
            self._execute(taker, events)
        return fired
