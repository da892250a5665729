"""The order book: price-time matching, stops, amend, depth.

Layout, chosen for speed in CPython and under mypyc:

* each side is a dict ``price -> Level`` plus a sorted list of integer keys with
  the best price *last* (bids: ``price``; asks: ``-price``), so the touch is
  ``keys[-1]``, removing it is ``pop()`` and new levels near the touch insert near
  the end;
* a ``Level`` is a list of orders with a head index: fills advance the head, a
  cancel zeroes the order in place (lazy deletion) and the list is compacted when
  dead entries pile up, so every operation is amortised O(1);
* stops wait in two heaps keyed by (stop price, arrival), with lazy deletion;
* GTD expiries sit in a heap of (expire_at, id), DAY orders' ids in one dict
  (cleared by ``ExpireDay``, stale ids skipped), OCO links in another and open
  trailing stops in a third, each consulted only when not empty, so plain limit
  and market flow pays for none of them beyond a few ``is None`` tests.

The module is pure (no clock, randomness or I/O) so the same commands always give
the same events.
"""

from bisect import bisect_left, insort
from collections.abc import Iterable
from heapq import heappop, heappush
from typing import Final, cast

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
from trading.engine.compat import mypyc_attr
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

BUY: Final = Side.BUY
SELL: Final = Side.SELL
LIMIT: Final = OrderType.LIMIT
MARKET: Final = OrderType.MARKET
STOP_LIMIT: Final = OrderType.STOP_LIMIT
STOP_MARKET: Final = OrderType.STOP_MARKET
GTC: Final = TimeInForce.GTC
IOC: Final = TimeInForce.IOC
FOK: Final = TimeInForce.FOK
GTD: Final = TimeInForce.GTD
DAY: Final = TimeInForce.DAY
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
D_GTD: Final = DoneDetail.GTD
D_OCO: Final = DoneDetail.OCO
D_AUCTION: Final = DoneDetail.AUCTION
D_DAY: Final = DoneDetail.DAY
CONTINUOUS: Final = Phase.CONTINUOUS
CALL: Final = Phase.CALL
CLOSED: Final = Phase.CLOSED
#: Phase changes a SetPhase may ask for (CALL -> CONTINUOUS is the uncross's).
_PHASE_MOVES: Final[frozenset[tuple[Phase, Phase]]] = frozenset(
    [
        (CONTINUOUS, CALL),
        (CONTINUOUS, CLOSED),
        (CALL, CLOSED),
        (CLOSED, CALL),
        (CLOSED, CONTINUOUS),
    ]
)
#: Indicative values when nothing would trade: (price, volume, surplus, side).
_NO_CROSS: Final[tuple[int | None, int, int, Side | None]] = (None, 0, 0, None)

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
_PHASES: Final[dict[object, Phase]] = {m: m for m in Phase}
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
_EXPIRE_DUE: Final = ExpireDue
_EXPIRE_DAY: Final = ExpireDay
_PLACE_OCO: Final = PlaceOco
_SET_PHASE: Final = SetPhase
_UNCROSS: Final = Uncross
_SET_BAND: Final = SetBand
#: Stands in for the Accepted event until the command knows whether the order rests.
_PENDING: Final = Event()


@mypyc_attr(acyclic=True)  # refers to ints and enums only: not GC-tracked
class Order:
    """A resting limit order. ``remaining == 0`` marks a dead queue entry."""

    __slots__ = (
        "expire_at",
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
        expire_at: int,
    ) -> None:
        self.order_id = order_id
        self.owner = owner
        self.side = side
        self.price = price
        self.remaining = remaining
        self.filled = filled
        self.stp = stp
        self.post_only = post_only
        self.expire_at = expire_at  # 0: not GTD

    def as_resting(
        self, oco_with: int | None = None, day: bool = False
    ) -> RestingOrder:
        return RestingOrder(
            self.order_id,
            self.owner,
            self.side,
            self.price,
            self.remaining,
            self.filled,
            self.stp,
            self.post_only,
            self.expire_at or None,
            oco_with,
            day,
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
    order's earlier fills; ``expire_at`` 0 means not GTD. ``key`` and ``price_key``
    are ``order_id`` and ``price``
    as the caller's own objects, used as dict keys so that compiled code need not
    box a new int per lookup.
    """

    __slots__ = (
        "expire_at",
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
        self.expire_at = 0

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
        expire_at: int,
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
        self.expire_at = expire_at
        return self


@mypyc_attr(acyclic=True)
class Queued:
    """A market order queued in a call phase, while the uncross fills it.
    ``remaining`` UNBOUNDED: bounded by ``quote`` alone; ``quote`` NO_QUOTE: no
    quote limit."""

    __slots__ = ("filled", "order_id", "owner", "quote", "remaining", "side", "stp")

    def __init__(self, place: Place) -> None:
        self.order_id: int = place.order_id
        self.owner: int = place.owner
        self.side: Side = place.side
        self.remaining: int = UNBOUNDED if place.quantity is None else place.quantity
        self.quote: int = NO_QUOTE if place.quote_limit is None else place.quote_limit
        self.filled = 0
        self.stp: STP = place.stp

    def lots_at(self, price: int) -> int:
        """What it could trade at ``price``: its quantity, and no more than its
        quote buys."""
        if self.quote < 0:
            return self.remaining
        affordable = self.quote // price
        return affordable if affordable < self.remaining else self.remaining


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
        self._clock = 0  # the last ExpireDue time
        self._expiries: list[tuple[int, int]] = []  # (expire_at, id), lazy deletion
        # OCO links, both ways (id -> partner id); empty unless OCO pairs are open.
        self._oco: dict[object, int] = {}
        # Open trailing stops (ids, in arrival order); empty unless there are some.
        self._trailing: dict[object, None] = {}
        # Ids of orders placed DAY (resting or waiting stops), until ExpireDay;
        # an id whose order has left stays until then or a compaction.
        self._day: dict[object, None] = {}
        self._phase = CONTINUOUS
        self._band_bps = 0  # volatility band in basis points; 0: none
        self._reference: int | None = None  # the band's price before any trade
        self._markets: dict[object, Place] = {}  # queued in a call, arrival order
        # Fills a queued market order had before a volatility interruption.
        self._market_filled: dict[object, int] = {}
        # The last Indicative values published in this call phase.
        self._published: tuple[int | None, int, int, Side | None] = _NO_CROSS

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
    ) -> "OrderBook":
        """Rebuild a book from open orders in time priority (oldest first) and
        waiting stops in arrival order, e.g. from database rows after a crash.
        OCO links (``oco_with``) must pair a resting limit order with a stop, both
        ways; a trailing stop carries its current ``stop_price``.

        Nothing is matched or expired: check ``is_crossed()`` before trusting the
        result, and send ``ExpireDue`` first. Raises ValueError on malformed or
        duplicate orders.
        """
        book = cls(symbol, sequence, last_price)
        book._clock = clock
        links: dict[int, int] = {}
        for order in orders:
            book._load_order(order)
            if order.oco_with is not None:
                links[order.order_id] = order.oco_with
        for stop in stops:
            book._load_stop(stop)
            if stop.oco_with is not None:
                links[stop.order_id] = stop.oco_with
        for order_id, partner in links.items():
            if links.get(partner) != order_id or (
                (order_id in book._orders) == (partner in book._orders)
            ):
                raise ValueError(f"order {order_id}: bad OCO link to {partner!r}")
            book._oco[order_id] = partner
        book._seq = sequence  # loading emitted no event: the sequence is unchanged
        return book

    @classmethod
    def restore(cls, snapshot: dict[str, object]) -> "OrderBook":
        """The book a ``snapshot()`` was taken from, ready to go on."""
        decoded = snapshots.decode(snapshot)
        symbol, sequence, last_price, orders, stops, clock, session = decoded
        book = cls.from_resting(symbol, orders, stops, sequence, last_price, clock)
        book._phase = session.phase
        book._band_bps = session.band_bps or 0
        book._reference = session.reference
        for market, filled in session.markets:
            key = market.order_id
            if (
                market.type is not MARKET
                or key in book._orders
                or key in book._stops
                or key in book._markets
            ):
                raise ValueError(f"bad queued market order {key!r}")
            book._markets[key] = market
            if filled:
                book._market_filled[key] = filled
        if book._phase is CALL:
            book._published = book._auction(book._queued())
        return book

    def snapshot(self) -> dict[str, object]:
        """The whole book as plain JSON-serialisable data."""
        return snapshots.encode(
            self.symbol,
            self._seq,
            self._last_price,
            self.resting_orders(BUY),
            self.resting_orders(SELL),
            self.stop_orders(),
            self._clock,
            snapshots.Session(
                self._phase,
                self._band_bps or None,
                self._reference,
                tuple(
                    [
                        (place, self._market_filled.get(key, 0))
                        for key, place in self._markets.items()
                    ]
                ),
            ),
        )

    def state_hash(self) -> str:
        """Hex SHA-256 of the canonical snapshot: equal books, equal hashes."""
        return snapshots.digest(self.snapshot())

    def _load_order(self, order: RestingOrder) -> None:
        order_id, owner, side, price, quantity, filled, stp, post_only = order[:8]
        expire_at = order.expire_at
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
        if expire_at is not None:
            if type(expire_at) is not int or not 0 < expire_at < MAX_VALUE:
                raise ValueError(f"order {order_id}: bad expire_at")
            heappush(self._expiries, (expire_at, order_id))
        if order.day:
            if order.oco_with is not None:
                raise ValueError(f"order {order_id}: a DAY order cannot be OCO")
            self._day[order_id] = None
        self._rest(
            Order(
                order_id, owner, _SIDES[side], price, quantity, filled, _STPS[stp],
                bool(post_only), expire_at or 0,
            ),
            order_id,
            price,
            [],
        )  # fmt: skip

    def _load_stop(self, stop: Place) -> None:
        """A stop is valid if a fresh book would accept it and keep it waiting; a
        trailing one is checked without its current stop, which then replaces the
        derived one."""
        if stop.order_id in self._orders or stop.order_id in self._stops:
            raise ValueError(f"duplicate order id {stop.order_id!r}")
        command = stop._replace(oco_with=None)
        trailing = stop.trail_amount is not None or stop.trail_bps is not None
        reference: int | None = None
        if trailing:
            command = command._replace(stop_price=None)
            # A reference price that leaves room for any valid trail.
            reference = MAX_VALUE // 2 if _SIDES.get(stop.side) is SELL else 1
        probe = OrderBook(last_price=reference)
        events = probe.process(command)
        if type(events[0]) is not Accepted or stop.order_id not in probe._stops:
            raise ValueError(f"stop {stop.order_id}: invalid ({events[0]!r})")
        placed = probe._stops[stop.order_id][1]
        if trailing:
            current = stop.stop_price
            if type(current) is not int or not 0 < current < MAX_VALUE:
                raise ValueError(f"stop {stop.order_id}: bad current stop price")
            placed = placed._replace(stop_price=current)
        self._arrival += 1
        self._add_stop(placed._replace(oco_with=stop.oco_with), self._arrival)

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
        if order is None:
            return None
        return order.as_resting(
            self._oco.get(order_id) if self._oco else None, order_id in self._day
        )

    def get_stop(self, order_id: int) -> Place | None:
        """The stop order waiting in the stop book, or None."""
        entry = self._stops.get(order_id)
        return None if entry is None else entry[1]

    def resting_orders(self, side: Side) -> list[RestingOrder]:
        """Every order of one side, best price first, then time priority."""
        keys = self._bid_keys if side is BUY else self._ask_keys
        levels = self._bids if side is BUY else self._asks
        sign = 1 if side is BUY else -1
        oco = self._oco
        day = self._day
        return [
            order.as_resting(
                oco.get(order.order_id) if oco else None, order.order_id in day
            )
            for key in reversed(keys)
            for order in levels[sign * key].open_orders()
        ]

    def stop_orders(self) -> list[Place]:
        """Waiting stops in arrival order."""
        return [place for _, place in sorted(self._stops.values())]

    def open_order_count(self) -> int:
        return len(self._orders) + len(self._stops) + len(self._markets)

    def market_orders(self) -> list[Place]:
        """Market orders queued for the uncross, in arrival order."""
        return list(self._markets.values())

    @property
    def phase(self) -> Phase:
        return self._phase

    def indicative(self) -> tuple[int | None, int, int, Side | None]:
        """(price, volume, surplus, surplus side) an uncross would give now, as
        the Indicative event carries it; (None, 0, 0, None) if nothing crosses."""
        return self._auction(self._queued())

    # ----------------------------------------------------------------- commands

    def process(self, command: Command) -> list[Event]:
        """Apply one command; return every event it caused, in order."""
        events: list[Event] = []
        if type(command) is _PLACE:  # the usual command, without the extra call
            self._place(command, events)
        else:
            self._dispatch(command, events)
        if self._phase is CALL:
            self._publish(events)
        return events

    def process_many(self, commands: Iterable[Command]) -> list[Event]:
        """Apply commands in order; one flat list of events (cheaper per command)."""
        events: list[Event] = []
        if isinstance(commands, list):  # the usual case: compiled code indexes it
            for command in commands:
                self._dispatch(command, events)
                if self._phase is CALL:
                    self._publish(events)
        else:
            for command in commands:
                self._dispatch(command, events)
                if self._phase is CALL:
                    self._publish(events)
        return events

    def _dispatch(self, command: Command, events: list[Event]) -> None:
        kind = type(command)
        if kind is _PLACE:
            self._place(command, events)  # type: ignore[arg-type]
        elif kind is _CANCEL:
            self._cancel(command, events)  # type: ignore[arg-type]
        elif kind is _AMEND:
            self._amend(command, events)  # type: ignore[arg-type]
        elif kind is _EXPIRE_DUE:
            self._expire_due(command, events)  # type: ignore[arg-type]
        elif kind is _EXPIRE_DAY:
            self._expire_day(events)
        elif kind is _PLACE_OCO:
            self._place_oco(command, events)  # type: ignore[arg-type]
        elif kind is _SET_PHASE:
            self._set_phase(command, events)  # type: ignore[arg-type]
        elif kind is _UNCROSS:
            self._uncross(command, events)  # type: ignore[arg-type]
        elif kind is _SET_BAND:
            self._set_band(command, events)  # type: ignore[arg-type]
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
        if self._phase is CLOSED:
            return self._reject(events, order_id, "place", RejectReason.MARKET_CLOSED)
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
        if (
            key in self._orders
            or (self._stops and key in self._stops)
            or (self._markets and key in self._markets)
        ):
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
            if tif is GTC or (tif is DAY and order_type is MARKET):
                tif = IOC
        else:
            if type(price) is not int or not 0 < price < MAX_VALUE:
                return self._reject(
                    events, order_id, "place", RejectReason.INVALID_PRICE
                )
            if post_only and tif is not GTC and tif is not GTD and tif is not DAY:
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
        expire_at = raw[11]
        trail_amount = raw[12]
        trail_bps = raw[13]
        if order_type is STOP_LIMIT or order_type is STOP_MARKET:
            trailing = trail_amount is not None or trail_bps is not None
            if trailing:
                why = _trail_fault(stop_price, trail_amount, trail_bps)
                if why is not None:
                    return self._reject(events, order_id, "place", why)
            elif type(stop_price) is not int or not 0 < stop_price < MAX_VALUE:
                return self._reject(
                    events, order_id, "place", RejectReason.INVALID_STOP_PRICE
                )
            why = _extras_fault(tif, expire_at, raw[14], False)
            if why is not None:
                return self._reject(events, order_id, "place", why)
            if trailing:
                if self._last_price is None:
                    return self._reject(
                        events, order_id, "place", RejectReason.NO_REFERENCE_PRICE
                    )
                stop_price = _trailed_stop(
                    side, self._last_price, trail_amount, trail_bps
                )
                if not 0 < stop_price < MAX_VALUE:
                    return self._reject(
                        events, order_id, "place", RejectReason.INVALID_TRAIL
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
                cast(int, stop_price),
                None if quote == NO_QUOTE else quote,
                stp,
                cast(int | None, expire_at),
                cast(int | None, trail_amount),
                cast(int | None, trail_bps),
            )
            if tif is GTD and cast(int, expire_at) <= self._clock:
                return self._too_late(stop, events)
            return self._place_stop(stop, events)
        if stop_price is not None or trail_amount is not None or trail_bps is not None:
            why = (
                RejectReason.INVALID_STOP_PRICE
                if trail_amount is None and trail_bps is None
                else RejectReason.INVALID_TRAIL
            )
            return self._reject(events, order_id, "place", why)
        expires = 0
        if tif is GTD or expire_at is not None or raw[14] is not None:
            why = _extras_fault(tif, expire_at, raw[14], is_market)
            if why is not None:
                return self._reject(events, order_id, "place", why)
            expires = expire_at  # type: ignore[assignment]
            if expires <= self._clock:
                return self._too_late(command, events)
        if tif is DAY:
            self._day_add(key)
        elif self._day:
            self._day.pop(key, None)
        if self._phase is CALL:
            if _TIFS.get(raw[6]) is IOC or tif is FOK:
                why = RejectReason.NOT_IN_CALL
                return self._reject(events, order_id, "place", why)
            events.append(Accepted(self._seq, order_id, owner, True))
            if is_market:
                self._markets[key] = Place(
                    order_id, owner, side, MARKET, None,
                    None if lots == UNBOUNDED else lots, tif, False, None,
                    None if quote == NO_QUOTE else quote, stp,
                )  # fmt: skip
                return None
            if expires:
                heappush(self._expiries, (expires, cast(int, order_id)))
            order = Order(
                order_id, owner, side, limit_price, lots, 0, stp, post_only, expires
            )
            return self._rest(order, key, price, events)
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
        taker.expire_at = expires
        if post_only or is_market or tif is FOK:
            why = self._precheck(taker)
            if why is not None:
                return self._reject(events, order_id, "place", why)
        slot = len(events)
        events.append(_PENDING)
        accepted_at = self._seq
        if expires:
            heappush(self._expiries, (expires, cast(int, order_id)))
        rests = self._execute(taker, events)
        if not rests and self._oco:
            self._oco_left(key, events)
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
        near_key = UNBOUNDED
        if taker.tif is FOK and self._band_bps:
            far_key, near_key = self._band_keys(side)
            if far_key > limit_key:
                limit_key = far_key
        if taker.tif is FOK and not self._fillable(taker, limit_key, near_key):
            return RejectReason.FOK_NOT_FILLABLE
        return None

    def _fillable(self, taker: Taker, limit_key: int, near_key: int) -> bool:
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
            if key < limit_key or key > near_key:
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
        band_key = NO_LIMIT
        near_key = UNBOUNDED
        if self._band_bps:
            band_key, near_key = self._band_keys(side)
        interrupted = False
        if opp_keys and opp_keys[-1] >= limit_key:
            index = self._orders
            seq = self._seq
            last = 0
            # OCO pairs or trailing stops open: each trade has more to do.
            hooks = bool(self._oco) or bool(self._trailing)
            while opp_keys:
                best_key = opp_keys[-1]
                if best_key < limit_key:
                    break
                if best_key < band_key or best_key > near_key:
                    interrupted = True
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
                        if hooks and self._oco:
                            self._seq = seq
                            self._oco_left(maker.order_id, events)
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
                    if hooks:
                        self._seq = seq
                        self._after_trade(maker.order_id, order_id, level_price, events)
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
            if interrupted:
                return self._interrupt(taker, remaining, quote, filled, events)
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
        elif taker.tif is IOC or taker.tif is FOK:
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
                    taker.expire_at,
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
            if self._oco:
                self._oco_left(key, events)
            return
        entry = self._stops.get(key)
        if entry is None:
            market = self._markets.pop(key, None) if self._markets else None
            if market is None:
                why = RejectReason.UNKNOWN_ORDER
                return self._reject(events, order_id, "cancel", why)
            events.append(
                OrderDone(
                    self._seq, market.order_id, market.owner, CANCELLED, D_USER,
                    market.quantity or 0, self._market_filled.pop(key, 0),
                )
            )  # fmt: skip
            return None
        self._drop_stop(key)
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
        if self._oco:
            self._oco_left(key, events)

    def _amend(self, command: Amend, events: list[Event]) -> None:
        raw: tuple[object, ...] = command
        order_id = raw[0]
        new_price = raw[1]
        new_quantity = raw[2]
        if self._phase is CLOSED:
            return self._reject(events, order_id, "amend", RejectReason.MARKET_CLOSED)
        if type(order_id) is not int:
            return self._reject(events, order_id, "amend", RejectReason.UNKNOWN_ORDER)
        order = self._orders.get(order_id)
        if order is None:
            why = (
                RejectReason.NOT_AMENDABLE
                if order_id in self._stops or order_id in self._markets
                else RejectReason.UNKNOWN_ORDER
            )
            return self._reject(events, order_id, "amend", why)
        if self._oco and order_id in self._oco:
            return self._reject(events, order_id, "amend", RejectReason.NOT_AMENDABLE)
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
        if self._phase is CALL:  # re-queued at the back, nothing matches
            events.append(
                Amended(self._seq, order_id, order.owner, price, quantity, False)
            )
            del self._orders[order_id]
            self._unlink(order, events)
            moved = Order(
                order_id, order.owner, side, price, quantity, order.filled,
                order.stp, order.post_only, order.expire_at,
            )  # fmt: skip
            return self._rest(moved, order_id, price, events)
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
            GTC, order.stp, order.post_only, order.filled, order.expire_at,
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
            order_id in self._stops
            or order_id in self._orders
            or order_id in self._markets,
        )

    def _add_stop(self, stop: Place, arrival: int) -> None:
        stop_price = stop.stop_price or 0
        order_id = stop.order_id
        self._stops[order_id] = (arrival, stop)
        if stop.side is BUY:
            heappush(self._buy_stops, (stop_price, arrival, order_id))
        else:
            heappush(self._sell_stops, (-stop_price, arrival, order_id))
        if stop.expire_at is not None:
            heappush(self._expiries, (stop.expire_at, order_id))
        if stop.trail_amount is not None or stop.trail_bps is not None:
            self._trailing[order_id] = None
        if stop.time_in_force is DAY:
            self._day_add(order_id)
        elif self._day:
            self._day.pop(order_id, None)

    def _drop_stop(self, key: object) -> None:
        """Forget a waiting stop (its heap entries go stale and are skipped)."""
        del self._stops[key]
        if self._trailing:
            self._trailing.pop(key, None)

    def _next_triggered(self, last: int) -> Place | None:
        """The stop to fire next at this last price, in the documented order: buy
        stops (lowest stop price first) before sell stops (highest first), ties by
        arrival. The price test comes first: if the top of a heap is not
        triggered nothing under it is, live or not, so the common case costs no
        lookup. Stale entries (cancelled stops, a trailing stop's looser old
        prices, which sort after its current one) are popped on the way."""
        stops = self._stops
        buys = self._buy_stops
        while buys and buys[0][0] <= last:
            _, arrival, order_id = heappop(buys)
            entry = stops.get(order_id)
            if entry is not None and entry[0] == arrival:
                self._drop_stop(order_id)
                return entry[1]
        sells = self._sell_stops
        while sells and -sells[0][0] >= last:
            _, arrival, order_id = heappop(sells)
            entry = stops.get(order_id)
            if entry is not None and entry[0] == arrival:
                self._drop_stop(order_id)
                return entry[1]
        return None

    def _run_stops(self, events: list[Event]) -> bool:
        """Fire stops one at a time until none is triggered by the last price; each
        fired order may trade and move the price, so the test is redone each time.
        A fired OCO stop leg first cancels its limit leg. True if any fired."""
        fired = False
        while (
            self._stops and self._last_price is not None and self._phase is CONTINUOUS
        ):
            last = self._last_price
            stop = self._next_triggered(last)
            if stop is None:
                break
            fired = True
            order_id, owner, side, _, price, quantity = stop[:6]
            tif, post_only, stop_price, quote_limit, stp = stop[6:11]
            expire_at = stop[11]
            events.append(
                StopTriggered(self._seq, order_id, owner, stop_price or 0, last)
            )
            if self._oco:
                self._oco_left(order_id, events)
            limit_price = price or 0
            taker = self._taker.load(
                order_id, order_id, owner, side, limit_price, limit_price,
                UNBOUNDED if quantity is None else quantity,
                NO_QUOTE if quote_limit is None else quote_limit,
                tif, stp, post_only, 0, expire_at or 0,
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

    def _trail(self, price: int, events: list[Event]) -> None:
        """After a trade at ``price``: move each trailing stop to the stop derived
        from it when that is tighter (higher for a sell, lower for a buy)."""
        stops = self._stops
        for key in self._trailing:
            arrival, stop = stops[key]
            side = stop.side
            current = stop.stop_price or 0
            candidate = _trailed_stop(side, price, stop.trail_amount, stop.trail_bps)
            if candidate > current if side is SELL else candidate < current:
                stops[key] = (arrival, stop._replace(stop_price=candidate))
                if side is BUY:
                    heappush(self._buy_stops, (candidate, arrival, stop.order_id))
                else:
                    heappush(self._sell_stops, (-candidate, arrival, stop.order_id))
                events.append(
                    StopMoved(self._seq, stop.order_id, stop.owner, candidate)
                )

    def _after_trade(
        self, maker_id: int, taker_id: int, price: int, events: list[Event]
    ) -> None:
        """What a trade does beyond the book, only when OCO pairs or trailing stops
        are open: a leg's first fill cancels its stop leg, then stops trail."""
        if self._oco:
            self._oco_left(maker_id, events)
            self._oco_left(taker_id, events)
        if self._trailing:
            self._trail(price, events)

    # ---------------------------------------------------------------- GTD, OCO

    def _too_late(self, command: Place, events: list[Event]) -> None:
        """A GTD order whose time has passed: accepted, then expired untraded."""
        order_id, owner = command.order_id, command.owner
        events.append(Accepted(self._seq, order_id, owner, False))
        events.append(
            OrderDone(
                self._seq, order_id, owner, EXPIRED, D_GTD, command.quantity or 0, 0
            )
        )

    def _expire_due(self, command: ExpireDue, events: list[Event]) -> None:
        """Advance the clock and expire what is due, in (expire_at, id) order."""
        raw: tuple[object, ...] = command
        now = raw[0]
        if type(now) is not int:
            return self._reject(events, None, "expire", RejectReason.INVALID_EXPIRY)
        if now < self._clock:
            return
        self._clock = now
        heap = self._expiries
        while heap and heap[0][0] <= now:
            at, order_id = heappop(heap)
            order = self._orders.get(order_id)
            if order is not None:
                if order.expire_at != at:
                    continue
                del self._orders[order_id]
                events.append(
                    OrderDone(
                        self._seq, order_id, order.owner, EXPIRED, D_GTD,
                        order.remaining, order.filled,
                    )
                )  # fmt: skip
                self._unlink(order, events)
            else:
                entry = self._stops.get(order_id)
                if entry is None or entry[1].expire_at != at:
                    continue
                self._drop_stop(order_id)
                stop = entry[1]
                events.append(
                    OrderDone(
                        self._seq, order_id, stop.owner, EXPIRED, D_GTD,
                        stop.quantity or 0, 0,
                    )
                )  # fmt: skip
            if self._oco:
                self._oco_left(order_id, events, now)

    def _day_add(self, key: object) -> None:
        """Note a DAY order; drop the ids of orders that have left once they
        outnumber the open ones (amortised O(1))."""
        day = self._day
        day[key] = None
        if len(day) > COMPACT_SLACK + 2 * (len(self._orders) + len(self._stops)):
            orders = self._orders
            stops = self._stops
            self._day = {k: None for k in day if k in orders or k in stops or k == key}

    def _expire_day(self, events: list[Event]) -> None:
        """The day is over: every open DAY order expires, lowest id first."""
        day = self._day
        if not day:
            return
        self._day = {}
        for order_id in sorted([cast(int, k) for k in day]):
            order = self._orders.get(order_id)
            if order is not None:
                del self._orders[order_id]
                events.append(
                    OrderDone(
                        self._seq, order_id, order.owner, EXPIRED, D_DAY,
                        order.remaining, order.filled,
                    )
                )  # fmt: skip
                self._unlink(order, events)
                continue
            entry = self._stops.get(order_id)
            if entry is not None:
                self._drop_stop(order_id)
                stop = entry[1]
                events.append(
                    OrderDone(
                        self._seq, order_id, stop.owner, EXPIRED, D_DAY,
                        stop.quantity or 0, 0,
                    )
                )  # fmt: skip

    def _oco_left(self, key: object, events: list[Event], now: int = -1) -> None:
        """Order ``key`` traded, triggered or left: cancel its OCO partner (unless
        the partner is itself due at ``now``: it then expires in its turn)."""
        partner = self._oco.pop(key, None)
        if partner is None:
            return
        del self._oco[partner]
        order = self._orders.get(partner)
        if order is not None:
            if 0 < order.expire_at <= now:
                return
            del self._orders[partner]
            events.append(
                OrderDone(
                    self._seq, partner, order.owner, CANCELLED, D_OCO,
                    order.remaining, order.filled,
                )
            )  # fmt: skip
            self._unlink(order, events)
            return
        entry = self._stops.get(partner)
        if entry is None:
            return
        stop = entry[1]
        if stop.expire_at is not None and stop.expire_at <= now:
            return
        self._drop_stop(partner)
        events.append(
            OrderDone(
                self._seq, partner, stop.owner, CANCELLED, D_OCO, stop.quantity or 0, 0
            )
        )

    def _leg_fault(self, leg: Place, stop: bool) -> RejectReason | Place:
        """An OCO leg checked as a Place on an empty probe book with this book's
        last price: the reason it would be refused, or the leg as it would wait."""
        probe = OrderBook(last_price=self._last_price)
        first = probe.process(leg)[0]
        open_here = (
            leg.order_id in self._orders
            or leg.order_id in self._stops
            or leg.order_id in self._markets
        )
        if isinstance(first, Rejected):
            if first.reason is not RejectReason.INVALID_ORDER and open_here:
                return RejectReason.DUPLICATE_ORDER_ID
            return first.reason
        if open_here:
            return RejectReason.DUPLICATE_ORDER_ID
        if not stop:
            return leg
        entry = probe._stops.get(leg.order_id)
        if entry is None:  # it would trigger at once
            return RejectReason.INVALID_STOP_PRICE
        return entry[1]

    def _place_oco(self, command: PlaceOco, events: list[Event]) -> None:
        raw: tuple[object, ...] = command
        limit = raw[0]
        stop = raw[1]
        if self._phase is CLOSED:
            order_id = limit.order_id if isinstance(limit, Place) else None
            return self._reject(events, order_id, "place", RejectReason.MARKET_CLOSED)
        if type(limit) is not _PLACE or type(stop) is not _PLACE:
            order_id = limit.order_id if isinstance(limit, Place) else None
            return self._reject(events, order_id, "place", RejectReason.INVALID_OCO)
        assert isinstance(limit, Place) and isinstance(stop, Place)
        limit = _enum_leg(limit)
        stop = _enum_leg(stop)
        order_id = limit.order_id
        if not _oco_shaped(limit, stop):
            return self._reject(events, order_id, "place", RejectReason.INVALID_OCO)
        checked = self._leg_fault(limit, False)
        if isinstance(checked, Place):
            checked = self._leg_fault(stop, True)
        if not isinstance(checked, Place):
            return self._reject(events, order_id, "place", checked)
        expire_at = limit.expire_at
        if expire_at is not None and expire_at <= self._clock:
            self._too_late(stop, events)
            return self._too_late(limit, events)
        if limit.post_only and self._phase is CONTINUOUS:
            price = limit.price or 0
            if _SIDES.get(limit.side) is BUY:
                if self._ask_keys and self._ask_keys[-1] >= -price:
                    why = RejectReason.POST_ONLY_WOULD_TAKE
                    return self._reject(events, order_id, "place", why)
            elif self._bid_keys and self._bid_keys[-1] >= price:
                why = RejectReason.POST_ONLY_WOULD_TAKE
                return self._reject(events, order_id, "place", why)
        stop_id = stop.order_id
        events.append(Accepted(self._seq, stop_id, stop.owner, True))
        self._oco[order_id] = stop_id
        self._oco[stop_id] = order_id
        self._arrival += 1
        self._add_stop(checked._replace(oco_with=order_id), self._arrival)
        self._place(limit, events)

    # ------------------------------------------------------------ call auction

    def _queued(self) -> list[Queued]:
        filled = self._market_filled
        queued = [Queued(place) for place in self._markets.values()]
        if filled:
            for market in queued:
                market.filled = filled.get(market.order_id, 0)
        return queued

    def _auction(
        self, markets: list[Queued]
    ) -> tuple[int | None, int, int, Side | None]:
        """(price, volume, surplus, surplus side) of an uncross now; the rule is
        ``ReferenceBook.auction_result``'s. Cumulative sums over the sorted
        candidate prices: buy lots at or above, sell lots at or below."""
        reference = self._last_price
        if reference is None:
            reference = self._reference
        bids = self._bids
        asks = self._asks
        prices = set(self._bid_keys)
        for key in self._ask_keys:
            prices.add(-key)
        if reference is not None:
            prices.add(reference)
        candidates = sorted(prices)
        count = len(candidates)
        market_sells = 0
        quoted: list[Queued] = []
        plain_buys = 0
        for market in markets:
            if market.side is SELL:
                market_sells += market.remaining
            elif market.quote >= 0:
                quoted.append(market)
            else:
                plain_buys += market.remaining
        buys = [0] * count
        total = 0
        for i in range(count - 1, -1, -1):
            level = bids.get(candidates[i])
            if level is not None:
                total += level.total
            buys[i] = total
        best_volume = 0
        rows: list[tuple[int, int]] = []  # (price, buy lots - sell lots)
        total = market_sells
        for i in range(count):
            price = candidates[i]
            level = asks.get(price)
            if level is not None:
                total += level.total
            bought = buys[i] + plain_buys
            for market in quoted:
                bought += market.lots_at(price)
            volume = bought if bought < total else total  # noqa: FURB136
            if volume <= 0 or volume < best_volume:
                continue
            if volume > best_volume:
                best_volume = volume
                rows = []
            rows.append((price, bought - total))
        if not rows:
            return _NO_CROSS
        least = min([abs(surplus) for _, surplus in rows])
        rows = [row for row in rows if abs(row[1]) == least]
        if all([surplus > 0 for _, surplus in rows]):
            chosen = rows[-1]
        elif all([surplus < 0 for _, surplus in rows]):
            chosen = rows[0]
        else:
            chosen = rows[0]
            if reference is not None:
                for row in rows:
                    if abs(row[0] - reference) < abs(chosen[0] - reference):
                        chosen = row
        surplus = chosen[1]
        side = None if not surplus else BUY if surplus > 0 else SELL
        return chosen[0], best_volume, abs(surplus), side

    def _publish(self, events: list[Event]) -> None:
        """In a call phase, an Indicative event when the result has changed."""
        result = self._auction(self._queued())
        if result != self._published:
            self._published = result
            price, volume, surplus, side = result
            events.append(Indicative(self._seq, price, volume, surplus, side))

    def _enter(self, phase: Phase, reason: str, events: list[Event]) -> None:
        """Its Indicative comes at the end of the command (``process``)."""
        self._phase = phase
        self._published = _NO_CROSS
        events.append(PhaseChanged(self._seq, phase, reason))

    def _band_keys(self, side: Side) -> tuple[int, int]:
        """The volatility band [reference - width, reference + width], width =
        reference * band_bps // 10000, as the two keys ``_execute`` compares a
        level's key with (bids ``price``, asks ``-price``): a fill is outside
        if its key is below the first (too far) or above the second (a price
        on the near side of the band). (NO_LIMIT, UNBOUNDED) without a band."""
        reference = self._last_price
        if reference is None:
            reference = self._reference
        if reference is None:
            return NO_LIMIT, UNBOUNDED
        width = reference * self._band_bps // 10_000
        if side is BUY:  # asks: key -price, walking up from the best ask
            return -(reference + width), -(reference - width)
        return reference - width, reference + width

    def _interrupt(
        self, taker: Taker, remaining: int, quote: int, filled: int, events: list[Event]
    ) -> bool:
        """A volatility interruption: a call starts, and the taker's remainder
        joins it (a market order queues, a GTC/GTD limit rests, IOC expires).
        True if the taker is still open."""
        self._enter(CALL, "volatility", events)
        order_id = taker.order_id
        if not taker.price:
            self._markets[taker.key] = Place(
                order_id, taker.owner, taker.side, MARKET, None,
                None if taker.lots == UNBOUNDED else remaining, IOC, False, None,
                None if quote == NO_QUOTE else quote, taker.stp,
            )  # fmt: skip
            if filled:
                self._market_filled[taker.key] = filled
            return True
        if taker.tif is IOC or taker.tif is FOK:
            expiry = D_IOC if taker.tif is IOC else D_FOK
            events.append(
                OrderDone(
                    self._seq, order_id, taker.owner, EXPIRED, expiry, remaining,
                    filled,
                )
            )  # fmt: skip
            return False
        self._rest(
            Order(
                order_id, taker.owner, taker.side, taker.price, remaining, filled,
                taker.stp, taker.post_only, taker.expire_at,
            ),
            taker.key,
            taker.price_key,
            events,
        )  # fmt: skip
        return True

    def _expire_markets(self, markets: list[Queued], events: list[Event]) -> None:
        """Market orders queued for an auction that is over expire, oldest first."""
        for market in markets:
            left = 0 if market.remaining == UNBOUNDED else market.remaining
            events.append(
                OrderDone(
                    self._seq, market.order_id, market.owner, EXPIRED, D_AUCTION,
                    left, market.filled,
                )
            )  # fmt: skip
        self._markets = {}
        self._market_filled = {}

    def _set_phase(self, command: SetPhase, events: list[Event]) -> None:
        raw: tuple[object, ...] = command
        phase = _PHASES.get(raw[0])
        if (
            phase is None
            or (self._phase, phase) not in _PHASE_MOVES
            or (self._phase is CLOSED and phase is CONTINUOUS and self.is_crossed())
        ):
            return self._reject(events, None, "phase", RejectReason.INVALID_PHASE)
        markets = self._queued()
        self._enter(phase, "command", events)
        self._expire_markets(markets, events)

    def _set_band(self, command: SetBand, events: list[Event]) -> None:
        raw: tuple[object, ...] = command
        band = raw[0]
        reference = raw[1]
        if (band is not None and (type(band) is not int or not 0 < band < 10_000)) or (
            reference is not None
            and (type(reference) is not int or not 0 < reference < MAX_VALUE)
        ):
            return self._reject(events, None, "band", RejectReason.INVALID_BAND)
        self._band_bps = cast(int, band or 0)
        self._reference = cast(int | None, reference)

    def _uncross(self, command: Uncross, events: list[Event]) -> None:
        """Trade at the auction price, round after round while anything still
        crosses, expire the market orders left, then enter the next phase."""
        raw: tuple[object, ...] = command
        following = _PHASES.get(raw[0])
        if self._phase is not CALL or following is None:
            return self._reject(events, None, "uncross", RejectReason.INVALID_PHASE)
        markets = self._queued()
        while True:
            price = self._auction(markets)[0]
            if price is None:
                break
            self._allocate(price, markets, events)
        self._expire_markets(markets, events)
        self._enter(following, "uncross", events)
        if following is CONTINUOUS and self._stops:
            self._run_stops(events)

    def _allocate(self, price: int, markets: list[Queued], events: list[Event]) -> None:
        """One round at ``price``: buys (market first, then highest price, then
        earliest) paired in turn with sells (market first, then lowest price,
        then earliest); same owner: the higher id acts as the taker and its STP
        mode says which leaves. Consumed orders are a prefix of each queue."""
        buys: list[Order | Queued] = [m for m in markets if m.side is BUY]
        for index in range(len(self._bid_keys) - 1, -1, -1):
            key = self._bid_keys[index]
            if key < price:
                break
            buys.extend(self._bids[key].open_orders())
        sells: list[Order | Queued] = [m for m in markets if m.side is SELL]
        for index in range(len(self._ask_keys) - 1, -1, -1):
            key = self._ask_keys[index]
            if -key > price:
                break
            sells.extend(self._asks[-key].open_orders())
        touched: set[tuple[Side, int]] = set()
        b = 0
        s = 0
        while b < len(buys) and s < len(sells):
            buy = buys[b]
            sell = sells[s]
            if buy.owner == sell.owner:
                later_is_buy = buy.order_id > sell.order_id
                mode = buy.stp if later_is_buy else sell.stp
                if mode is EXPIRE_BOTH:
                    self._auction_close(sell, EXPIRED, D_STP, markets, touched, events)
                    self._auction_close(buy, EXPIRED, D_STP, markets, touched, events)
                    s += 1
                    b += 1
                elif later_is_buy == (mode is EXPIRE_TAKER):
                    self._auction_close(buy, EXPIRED, D_STP, markets, touched, events)
                    b += 1
                else:
                    self._auction_close(sell, EXPIRED, D_STP, markets, touched, events)
                    s += 1
                continue
            quantity = buy.lots_at(price) if isinstance(buy, Queued) else buy.remaining
            if sell.remaining < quantity:
                quantity = sell.remaining
            if not quantity:  # a market buy whose quote cannot pay one lot
                self._auction_close(
                    buy, EXPIRED, D_QUOTE_LIMIT, markets, touched, events
                )
                b += 1
                continue
            self._seq += 1
            self._last_price = price
            events.append(
                Trade(
                    self._seq, sell.order_id, buy.order_id, sell.owner, buy.owner,
                    price, quantity, BUY, True,
                )
            )  # fmt: skip
            if self._oco or self._trailing:
                self._after_trade(sell.order_id, buy.order_id, price, events)
            for order in (sell, buy):
                order.filled += quantity
                if isinstance(order, Order):
                    order.remaining -= quantity
                    levels = self._bids if order.side is BUY else self._asks
                    levels[order.price].total -= quantity
                    touched.add((order.side, order.price))
                else:
                    if order.remaining != UNBOUNDED:
                        order.remaining -= quantity
                    if order.quote >= 0:
                        order.quote -= quantity * price
            if not sell.remaining:
                self._auction_close(sell, FILLED, D_NONE, markets, touched, events)
                s += 1
            if not buy.remaining:
                self._auction_close(buy, FILLED, D_NONE, markets, touched, events)
                b += 1
        bid_prices = [p for side, p in touched if side is BUY]
        for level_price in sorted(bid_prices, reverse=True):
            self._settle_level(BUY, level_price, events)
        for level_price in sorted([p for side, p in touched if side is SELL]):
            self._settle_level(SELL, level_price, events)

    def _auction_close(
        self,
        order: Order | Queued,
        reason: DoneReason,
        detail: DoneDetail,
        markets: list[Queued],
        touched: set[tuple[Side, int]],
        events: list[Event],
    ) -> None:
        """An order leaves during the uncross (filled, or expired by STP or its
        quote limit); an expired OCO leg takes its partner along."""
        left = order.remaining
        if isinstance(order, Queued):
            markets.remove(order)
            left = 0 if left == UNBOUNDED else left
            events.append(
                OrderDone(
                    self._seq, order.order_id, order.owner, reason, detail, left,
                    order.filled,
                )
            )  # fmt: skip
            return
        events.append(
            OrderDone(
                self._seq, order.order_id, order.owner, reason, detail, left,
                order.filled,
            )
        )  # fmt: skip
        level = (self._bids if order.side is BUY else self._asks)[order.price]
        level.total -= left
        level.live -= 1
        order.remaining = 0
        del self._orders[order.order_id]
        touched.add((order.side, order.price))
        if reason is not FILLED and self._oco:
            self._oco_left(order.order_id, events)

    def _settle_level(self, side: Side, price: int, events: list[Event]) -> None:
        """After an uncross round: a touched level's new total, then drop it if
        empty or compact it."""
        levels = self._bids if side is BUY else self._asks
        level = levels[price]
        self._seq += 1
        events.append(LevelChanged(self._seq, side, price, level.total))
        if level.live:
            level.compact()
        else:
            del levels[price]
            keys = self._bid_keys if side is BUY else self._ask_keys
            key = price if side is BUY else -price
            del keys[bisect_left(keys, key)]


def _enum_leg(leg: Place) -> Place:
    """The leg with its side, type, time in force and STP as the enum members
    when they name one (a plain "sell" is allowed, as in any Place): the compiled
    build checks a field's declared type when it is read as an attribute. A leg
    with a field that names nothing is left as it is, for the checks to refuse."""
    raw: tuple[object, ...] = leg
    side = _SIDES.get(raw[2])
    order_type = _TYPES.get(raw[3])
    tif = _TIFS.get(raw[6])
    stp = _STPS.get(raw[10])
    if side is None or order_type is None or tif is None or stp is None:
        return leg
    if side is raw[2] and order_type is raw[3] and tif is raw[6] and stp is raw[10]:
        return leg
    return leg._replace(side=side, type=order_type, time_in_force=tif, stp=stp)


def _oco_shaped(limit: Place, stop: Place) -> bool:
    """The two legs fit together: a limit and a stop of one owner, side and
    quantity, GTC or GTD alike."""
    return (
        _TYPES.get(limit.type) is LIMIT
        and _TYPES.get(stop.type) in (STOP_LIMIT, STOP_MARKET)
        and limit.order_id != stop.order_id
        and limit.owner == stop.owner
        and limit.side == stop.side
        and limit.quantity is not None
        and limit.quantity == stop.quantity
        and limit.time_in_force == stop.time_in_force
        and _TIFS.get(limit.time_in_force) in (GTC, GTD)
        and limit.expire_at == stop.expire_at
    )


def _trail_fault(
    stop_price: object, trail_amount: object, trail_bps: object
) -> RejectReason | None:
    """A trailing stop gives exactly one valid trail and no stop price."""
    if stop_price is not None or (trail_amount is not None and trail_bps is not None):
        return RejectReason.INVALID_TRAIL
    if trail_amount is not None and (
        type(trail_amount) is not int or not 0 < trail_amount < MAX_VALUE
    ):
        return RejectReason.INVALID_TRAIL
    if trail_bps is not None and (
        type(trail_bps) is not int or not 0 < trail_bps < 10_000
    ):
        return RejectReason.INVALID_TRAIL
    return None


def _extras_fault(
    tif: TimeInForce, expire_at: object, oco_with: object, plain_market: bool
) -> RejectReason | None:
    """GTD goes with a valid expire_at and only with it (a plain market order
    never rests, so it has none); ``oco_with`` is for rebuilds only."""
    if tif is GTD:
        if plain_market or type(expire_at) is not int or not 0 < expire_at < MAX_VALUE:
            return RejectReason.INVALID_EXPIRY
    elif expire_at is not None:
        return RejectReason.INVALID_EXPIRY
    if oco_with is not None:
        return RejectReason.INVALID_OCO
    return None


def _trailed_stop(side: Side, last: int, amount: object, bps: object) -> int:
    """The stop a trail gives at this last price: ``last -/+ trail_amount`` or
    ``last -/+ ceil(last * trail_bps / 10000)`` (sell -, buy +)."""
    if type(amount) is int:
        offset = amount
    else:
        assert type(bps) is int
        offset = (last * bps + 9_999) // 10_000
    return last - offset if side is SELL else last + offset
