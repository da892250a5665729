"""Small readers that turn event lists into exact, comparable values, and a
seeded stream of every kind of command."""

import random

from trading.engine import (
    Amend,
    Book,
    Cancel,
    Command,
    Event,
    ExpireDue,
    LevelChanged,
    OrderBook,
    OrderDone,
    OrderType,
    Place,
    PlaceOco,
    Rejected,
    Side,
    TimeInForce,
    Trade,
)

BUY, SELL = Side.BUY, Side.SELL


def limit(order_id: int, owner: int, side: Side, price: int, quantity: int) -> Place:
    return Place(order_id, owner, side, price=price, quantity=quantity)


def standard_book(book_class: type[Book] = OrderBook) -> Book:
    """Asks 101: #1 (owner 1) 5, #2 (owner 2) 5; 102: #3 (owner 3) 5.
    Bids 99: #4 (owner 4) 5; 98: #5 (owner 5) 5. Owner 9 is the usual taker."""
    book = book_class.from_resting("TEST", ())
    book.process_many(
        [
            limit(1, 1, SELL, 101, 5),
            limit(2, 2, SELL, 101, 5),
            limit(3, 3, SELL, 102, 5),
            limit(4, 4, BUY, 99, 5),
            limit(5, 5, BUY, 98, 5),
        ]
    )
    return book


def trades(events: list[Event]) -> list[tuple[int, int, int, int]]:
    """(maker order, taker order, price, quantity) per trade, in order."""
    return [
        (e.maker_order_id, e.taker_order_id, e.price, e.quantity)
        for e in events
        if isinstance(e, Trade)
    ]


def done(events: list[Event]) -> dict[int, tuple[str, str, int, int]]:
    """order id -> (reason, detail, remaining, filled) for every OrderDone."""
    return {
        e.order_id: (
            str(e.reason),
            str(e.detail),
            e.remaining_quantity,
            e.filled_quantity,
        )
        for e in events
        if isinstance(e, OrderDone)
    }


def rejections(events: list[Event]) -> list[str]:
    return [str(e.reason) for e in events if isinstance(e, Rejected)]


def level_changes(events: list[Event]) -> list[tuple[str, int, int]]:
    return [
        (str(e.side), e.price, e.quantity)
        for e in events
        if isinstance(e, LevelChanged)
    ]


def feature_stream(count: int, seed: int) -> list[Command]:
    """A seeded stream that mixes GTD orders, a clock (ExpireDue), OCO pairs and
    trailing stops into plain limit, market, stop, cancel and amend traffic."""
    rng = random.Random(seed)
    commands: list[Command] = []
    ids: list[int] = []
    next_id = 0
    now = 0

    def new_id() -> int:
        nonlocal next_id
        next_id += 1
        ids.append(next_id)
        return next_id

    for _ in range(count):
        roll = rng.random()
        side = rng.choice((BUY, SELL))
        owner = rng.randint(1, 20)
        quantity = rng.randint(1, 9)
        gtd = rng.random() < 0.3
        tif = TimeInForce.GTD if gtd else TimeInForce.GTC
        expire_at = now + rng.randint(1, 60) if gtd else None
        trail = rng.choice(("fixed", "fixed", "amount", "bps"))
        stop_price = rng.randint(980, 1020) if trail == "fixed" else None
        trail_amount = rng.randint(1, 8) if trail == "amount" else None
        trail_bps = rng.randint(5, 80) if trail == "bps" else None
        if roll < 0.50:
            commands.append(
                Place(
                    new_id(), owner, side, price=rng.randint(985, 1015),
                    quantity=quantity, time_in_force=tif, expire_at=expire_at,
                )
            )  # fmt: skip
        elif roll < 0.55:
            commands.append(
                Place(new_id(), owner, side, OrderType.MARKET, quantity=quantity)
            )
        elif roll < 0.62:
            kind = rng.choice((OrderType.STOP_LIMIT, OrderType.STOP_MARKET))
            price = rng.randint(985, 1015) if kind is OrderType.STOP_LIMIT else None
            commands.append(
                Place(
                    new_id(), owner, side, kind, price, quantity, tif,
                    stop_price=stop_price, expire_at=expire_at,
                    trail_amount=trail_amount, trail_bps=trail_bps,
                )
            )  # fmt: skip
        elif roll < 0.70:
            stop_limit = rng.choice((None, rng.randint(985, 1015)))
            kind = OrderType.STOP_MARKET if stop_limit is None else OrderType.STOP_LIMIT
            commands.append(
                PlaceOco(
                    Place(
                        new_id(), owner, side, price=rng.randint(985, 1015),
                        quantity=quantity, time_in_force=tif, expire_at=expire_at,
                    ),
                    Place(
                        new_id(), owner, side, kind, stop_limit, quantity, tif,
                        stop_price=stop_price, expire_at=expire_at,
                        trail_amount=trail_amount, trail_bps=trail_bps,
                    ),
                )
            )  # fmt: skip
        elif roll < 0.88 and ids:
            commands.append(Cancel(rng.choice(ids[-200:])))
        elif roll < 0.93 and ids:
            commands.append(
                Amend(
                    rng.choice(ids[-200:]),
                    rng.choice((None, rng.randint(985, 1015))),
                    rng.choice((None, rng.randint(1, 9))),
                )
            )
        else:
            now += rng.randint(0, 5)
            commands.append(ExpireDue(now - rng.randint(0, 1) * 3))
    return commands
