"""A deliberately naive order book, the yardstick for the engine.

Written apart from ``trading.engine.book`` and as plainly as possible: one list of
resting orders, one list of stops, best order found by a linear scan over
(price, arrival). It is slow on purpose and shares no code with the engine except
the command and enum types. It speaks a simpler event language: tuples

    ("accepted", order_id, resting)     ("rejected", order_id, reason)
    ("trade", maker_id, taker_id, price, quantity)
    ("done", order_id, reason, detail, remaining, filled)
    ("triggered", order_id)             ("amended", order_id, price, quantity, kept)

which ``normalise`` produces from engine events too, so the two can be compared.
"""

import copy
from dataclasses import dataclass

from trading.engine import (
    MAX_VALUE,
    STP,
    Accepted,
    Amend,
    Amended,
    Cancel,
    Event,
    OrderDone,
    OrderType,
    Place,
    Rejected,
    Side,
    StopTriggered,
    TimeInForce,
    Trade,
)

Tuple = tuple[object, ...]


@dataclass
class Resting:
    order_id: int
    owner: int
    side: str
    price: int
    remaining: int
    filled: int
    stp: str
    post_only: bool
    arrival: int


@dataclass
class Taker:
    order_id: int
    owner: int
    side: str
    price: int | None  # None: market
    remaining: int | None  # None: bounded by quote only
    quote: int | None
    tif: str
    stp: str
    post_only: bool
    filled: int = 0


def is_int(value: object, low: int = 1) -> bool:
    return type(value) is int and low <= value < MAX_VALUE


class ReferenceBook:
    def __init__(self) -> None:
        self.orders: list[Resting] = []
        self.stops: list[tuple[int, Place]] = []  # (arrival, normalised place)
        self.last_price: int | None = None
        self.clock = 0

    # ------------------------------------------------------------------ queries

    def find(self, order_id: object) -> Resting | None:
        for order in self.orders:
            if order.order_id == order_id:
                return order
        return None

    def is_open(self, order_id: object) -> bool:
        return self.find(order_id) is not None or any(
            p.order_id == order_id for _, p in self.stops
        )

    def depth(self) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        totals: dict[tuple[str, int], int] = {}
        for o in self.orders:
            totals[(o.side, o.price)] = totals.get((o.side, o.price), 0) + o.remaining
        bids = sorted(
            ((p, q) for (s, p), q in totals.items() if s == "buy"), reverse=True
        )
        asks = sorted((p, q) for (s, p), q in totals.items() if s == "sell")
        return bids, asks

    def resting(self, side: str) -> list[tuple[int, int, int, int]]:
        """(order_id, price, remaining, filled), best price first then time."""
        mine = [o for o in self.orders if o.side == side]
        if side == "buy":
            mine.sort(key=lambda o: (-o.price, o.arrival))
        else:
            mine.sort(key=lambda o: (o.price, o.arrival))
        return [(o.order_id, o.price, o.remaining, o.filled) for o in mine]

    def next_arrival(self) -> int:
        self.clock += 1
        return self.clock

    # ----------------------------------------------------------------- matching

    def crosses(self, taker_side: str, taker_price: int | None, maker: Resting) -> bool:
        if maker.side == taker_side:
            return False
        if taker_price is None:
            return True
        if taker_side == "buy":
            return maker.price <= taker_price
        return maker.price >= taker_price

    def best_maker(self, taker: Taker) -> Resting | None:
        best = None
        for o in self.orders:
            if not self.crosses(taker.side, taker.price, o):
                continue
            rank = (o.price if o.side == "sell" else -o.price, o.arrival)
            if best is None or rank < best[0]:
                best = (rank, o)
        return None if best is None else best[1]

    def match(self, taker: Taker, out: list[Tuple]) -> str:
        """Trade the taker against the book; return why it stopped ('' if it ran
        out of quantity or of crossing orders)."""
        while taker.remaining is None or taker.remaining > 0:
            maker = self.best_maker(taker)
            if maker is None:
                return ""
            if maker.owner == taker.owner:
                if taker.stp == "expire_taker":
                    return "stp"
                self.orders.remove(maker)
                out.append(
                    ("done", maker.order_id, "expired", "stp", maker.remaining,
                     maker.filled)
                )  # fmt: skip
                if taker.stp == "expire_both":
                    return "stp"
                continue
            quantity = maker.remaining
            if taker.remaining is not None:
                quantity = min(quantity, taker.remaining)
            if taker.quote is not None:
                affordable = taker.quote // maker.price
                if affordable == 0:
                    return "quote_limit"
                quantity = min(quantity, affordable)
                taker.quote -= quantity * maker.price
            out.append(("trade", maker.order_id, taker.order_id, maker.price, quantity))
            self.last_price = maker.price
            maker.remaining -= quantity
            maker.filled += quantity
            taker.filled += quantity
            if taker.remaining is not None:
                taker.remaining -= quantity
            if maker.remaining == 0:
                self.orders.remove(maker)
                out.append(("done", maker.order_id, "filled", "", 0, maker.filled))
        return ""

    def refusal(self, taker: Taker) -> str | None:
        """Why the order must leave no trace, or None."""
        opposite = [o for o in self.orders if o.side != taker.side]
        if taker.price is None and not opposite:
            return "no_liquidity"
        if taker.post_only and any(
            self.crosses(taker.side, taker.price, o) for o in opposite
        ):
            return "post_only_would_take"
        if taker.tif == "fok":
            trial = copy.deepcopy(self)
            probe = copy.deepcopy(taker)
            why = trial.match(probe, [])
            if why or probe.remaining:
                return "fok_not_fillable"
        return None

    def run(self, taker: Taker, out: list[Tuple]) -> None:
        """Execute an accepted taker and close or rest what is left."""
        why = self.match(taker, out)
        left = 0 if taker.remaining is None else taker.remaining
        if taker.remaining == 0:
            out.append(("done", taker.order_id, "filled", "", 0, taker.filled))
        elif why:
            out.append(("done", taker.order_id, "expired", why, left, taker.filled))
        elif taker.price is None:
            out.append(
                ("done", taker.order_id, "expired", "no_liquidity", left, taker.filled)
            )
        elif taker.tif != "gtc":
            out.append(
                ("done", taker.order_id, "expired", taker.tif, left, taker.filled)
            )
        else:
            self.orders.append(
                Resting(
                    taker.order_id, taker.owner, taker.side, taker.price, left,
                    taker.filled, taker.stp, taker.post_only, self.next_arrival(),
                )
            )  # fmt: skip

    def fire_stops(self, out: list[Tuple]) -> None:
        while self.last_price is not None:
            last = self.last_price
            buys = [
                s for s in self.stops if s[1].side == "buy" and s[1].stop_price <= last
            ]
            sells = [
                s for s in self.stops if s[1].side == "sell" and s[1].stop_price >= last
            ]
            if buys:
                chosen = min(buys, key=lambda s: (s[1].stop_price, s[0]))
            elif sells:
                chosen = min(sells, key=lambda s: (-s[1].stop_price, s[0]))
            else:
                return
            self.stops.remove(chosen)
            p = chosen[1]
            out.append(("triggered", p.order_id))
            market = p.type == "stop_market"
            taker = Taker(
                p.order_id, p.owner, p.side, None if market else p.price, p.quantity,
                p.quote_limit, "ioc" if market and p.time_in_force == "gtc"
                else p.time_in_force, p.stp, p.post_only,
            )  # fmt: skip
            why = self.refusal(taker)
            if why is not None:
                detail = {
                    "post_only_would_take": "post_only",
                    "fok_not_fillable": "fok",
                }
                left = p.quantity or 0
                out.append(
                    ("done", p.order_id, "expired", detail.get(why, why), left, 0)
                )
                continue
            self.run(taker, out)

    # ----------------------------------------------------------------- commands

    def process(self, command: object) -> list[Tuple]:
        out: list[Tuple] = []
        if isinstance(command, Place):
            self.place(command, out)
        elif isinstance(command, Cancel):
            self.cancel(command, out)
        elif isinstance(command, Amend):
            self.amend(command, out)
        else:
            out.append(("rejected", None, "unknown_command"))
        return out

    def validate(self, c: Place) -> str | None:
        if not (
            type(c.order_id) is int
            and type(c.owner) is int
            and c.side in ("buy", "sell")
            and c.type in ("limit", "market", "stop_limit", "stop_market")
            and c.time_in_force in ("gtc", "ioc", "fok")
            and c.stp in ("expire_taker", "expire_maker", "expire_both")
            and type(c.post_only) is bool
        ):
            return "invalid_order"
        if self.is_open(c.order_id):
            return "duplicate_order_id"
        market = c.type in ("market", "stop_market")
        if market and c.price is not None:
            return "invalid_price"
        if market and c.post_only:
            return "invalid_order"
        if not market and not is_int(c.price):
            return "invalid_price"
        if not market and c.post_only and c.time_in_force != "gtc":
            return "invalid_order"
        if c.quote_limit is not None and not (
            market and c.side == "buy" and is_int(c.quote_limit)
        ):
            return "invalid_quote_limit"
        if c.quantity is None:
            if c.quote_limit is None or c.time_in_force == "fok":
                return "invalid_quantity"
        elif not is_int(c.quantity):
            return "invalid_quantity"
        if c.type in ("stop_limit", "stop_market"):
            if not is_int(c.stop_price):
                return "invalid_stop_price"
        elif c.stop_price is not None:
            return "invalid_stop_price"
        return None

    def place(self, c: Place, out: list[Tuple]) -> None:
        why = self.validate(c)
        if why is not None:
            out.append(("rejected", c.order_id, why))
            return
        if c.type in ("stop_limit", "stop_market"):
            out.append(("accepted", c.order_id, None))
            slot = len(out) - 1
            self.stops.append((self.next_arrival(), c))
            self.fire_stops(out)
            out[slot] = ("accepted", c.order_id, self.is_open(c.order_id))
            return
        market = c.type == "market"
        tif = "ioc" if market and c.time_in_force == "gtc" else c.time_in_force
        taker = Taker(
            c.order_id, c.owner, c.side, c.price, c.quantity, c.quote_limit, tif,
            c.stp, c.post_only,
        )  # fmt: skip
        why = self.refusal(taker)
        if why is not None:
            out.append(("rejected", c.order_id, why))
            return
        out.append(("accepted", c.order_id, None))
        slot = len(out) - 1
        self.run(taker, out)
        self.fire_stops(out)
        out[slot] = ("accepted", c.order_id, self.is_open(c.order_id))

    def cancel(self, c: Cancel, out: list[Tuple]) -> None:
        order = self.find(c.order_id)
        if order is not None:
            self.orders.remove(order)
            out.append(
                ("done", order.order_id, "cancelled", "user", order.remaining,
                 order.filled)
            )  # fmt: skip
            return
        for stop in self.stops:
            if stop[1].order_id == c.order_id:
                self.stops.remove(stop)
                out.append(
                    ("done", c.order_id, "cancelled", "user", stop[1].quantity or 0, 0)
                )
                return
        out.append(("rejected", c.order_id, "unknown_order"))

    def amend(self, c: Amend, out: list[Tuple]) -> None:
        order = self.find(c.order_id)
        if order is None:
            stop = any(p.order_id == c.order_id for _, p in self.stops)
            out.append(
                ("rejected", c.order_id, "not_amendable" if stop else "unknown_order")
            )
            return
        if c.new_price is None and c.new_quantity is None:
            out.append(("rejected", c.order_id, "nothing_to_amend"))
            return
        if c.new_price is not None and not is_int(c.new_price):
            out.append(("rejected", c.order_id, "invalid_price"))
            return
        if c.new_quantity is not None and not is_int(c.new_quantity):
            out.append(("rejected", c.order_id, "invalid_quantity"))
            return
        price = order.price if c.new_price is None else c.new_price
        quantity = order.remaining if c.new_quantity is None else c.new_quantity
        if price == order.price and quantity <= order.remaining:
            order.remaining = quantity
            out.append(("amended", order.order_id, price, quantity, True))
            return
        if order.post_only and any(
            self.crosses(order.side, price, o) for o in self.orders
        ):
            out.append(("rejected", c.order_id, "post_only_would_take"))
            return
        out.append(("amended", order.order_id, price, quantity, False))
        self.orders.remove(order)
        taker = Taker(
            order.order_id, order.owner, order.side, price, quantity, None, "gtc",
            order.stp, order.post_only, order.filled,
        )  # fmt: skip
        self.run(taker, out)
        self.fire_stops(out)


def normalise(events: list[Event]) -> list[Tuple]:
    """Engine events in the reference's language (sequence numbers and level
    changes are checked separately)."""
    out: list[Tuple] = []
    for e in events:
        if isinstance(e, Accepted):
            out.append(("accepted", e.order_id, e.resting))
        elif isinstance(e, Rejected):
            out.append(("rejected", e.order_id, str(e.reason)))
        elif isinstance(e, Trade):
            out.append(
                ("trade", e.maker_order_id, e.taker_order_id, e.price, e.quantity)
            )
        elif isinstance(e, OrderDone):
            out.append(
                ("done", e.order_id, str(e.reason), str(e.detail),
                 e.remaining_quantity, e.filled_quantity)
            )  # fmt: skip
        elif isinstance(e, StopTriggered):
            out.append(("triggered", e.order_id))
        elif isinstance(e, Amended):
            out.append(("amended", e.order_id, e.price, e.quantity, e.priority_kept))
    return out


__all__ = [
    "STP",
    "OrderType",
    "ReferenceBook",
    "Side",
    "TimeInForce",
    "normalise",
]
