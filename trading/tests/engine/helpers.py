"""Small readers that turn event lists into exact, comparable values."""

from trading.engine import (
    Book,
    Event,
    LevelChanged,
    OrderBook,
    OrderDone,
    Place,
    Rejected,
    Side,
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
