"""Order types and time in force at their edges, as one readable table.

Every row starts from ``standard_book()``:

    asks  102: #3 (owner 3) 5        bids  99: #4 (owner 4) 5
          101: #1 (owner 1) 5, #2 (owner 2) 5    98: #5 (owner 5) 5

and sends one command from owner 9 (order #10) unless the row says otherwise.
"""

from dataclasses import dataclass, field

import pytest

from trading.engine import (
    STP,
    Accepted,
    Book,
    Cancel,
    DoneDetail,
    DoneReason,
    LevelChanged,
    OrderDone,
    OrderType,
    Place,
    Rejected,
    RejectReason,
    Side,
    TimeInForce,
    Trade,
)
from trading.tests.engine.helpers import (
    done,
    level_changes,
    rejections,
    standard_book,
    trades,
)

BUY, SELL = Side.BUY, Side.SELL
LIMIT, MARKET = OrderType.LIMIT, OrderType.MARKET
GTC, IOC, FOK = TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK
FILLED, NO_DETAIL = DoneReason.FILLED, DoneDetail.NONE
UNTOUCHED = ([(99, 5), (98, 5)], [(101, 10), (102, 5)])


@dataclass
class Row:
    name: str
    command: Place
    trades: list[tuple[int, int, int, int]] = field(default_factory=list)
    done: dict[int, tuple[str, str, int, int]] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    depth: tuple[list[tuple[int, int]], list[tuple[int, int]]] = UNTOUCHED
    empty_book: bool = False


def buy(price: int | None, quantity: int | None, **kw: object) -> Place:
    kind = LIMIT if price is not None else MARKET
    return Place(10, 9, BUY, kind, price, quantity, **kw)  # type: ignore[arg-type]


def sell(price: int | None, quantity: int | None, **kw: object) -> Place:
    kind = LIMIT if price is not None else MARKET
    return Place(10, 9, SELL, kind, price, quantity, **kw)  # type: ignore[arg-type]


FILLED_10 = {1: ("filled", "", 0, 5), 2: ("filled", "", 0, 5)}
ROWS = [
    # ---------------------------------------------------------------- limit GTC
    Row(
        "limit exact fill of a level",
        buy(101, 10),
        trades=[(1, 10, 101, 5), (2, 10, 101, 5)],
        done={**FILLED_10, 10: ("filled", "", 0, 10)},
        depth=([(99, 5), (98, 5)], [(102, 5)]),
    ),
    Row(
        "limit one lot more than the level rests the lot",
        buy(101, 11),
        trades=[(1, 10, 101, 5), (2, 10, 101, 5)],
        done=FILLED_10,
        depth=([(101, 1), (99, 5), (98, 5)], [(102, 5)]),
    ),
    Row(
        "limit sweeps two levels at the makers' prices",
        buy(105, 12),
        trades=[(1, 10, 101, 5), (2, 10, 101, 5), (3, 10, 102, 2)],
        done={**FILLED_10, 10: ("filled", "", 0, 12)},
        depth=([(99, 5), (98, 5)], [(102, 3)]),
    ),
    Row(
        "limit that does not cross rests",
        buy(100, 3),
        depth=([(100, 3), (99, 5), (98, 5)], [(101, 10), (102, 5)]),
    ),
    Row(
        "limit on an empty book rests",
        buy(100, 3),
        depth=([(100, 3)], []),
        empty_book=True,
    ),
    # ----------------------------------------------------------------------- IOC
    Row(
        "IOC exact fill",
        buy(101, 10, time_in_force=IOC),
        trades=[(1, 10, 101, 5), (2, 10, 101, 5)],
        done={**FILLED_10, 10: ("filled", "", 0, 10)},
        depth=([(99, 5), (98, 5)], [(102, 5)]),
    ),
    Row(
        "IOC one lot short expires the lot",
        buy(101, 11, time_in_force=IOC),
        trades=[(1, 10, 101, 5), (2, 10, 101, 5)],
        done={**FILLED_10, 10: ("expired", "ioc", 1, 10)},
        depth=([(99, 5), (98, 5)], [(102, 5)]),
    ),
    Row(
        "IOC on an empty book expires whole",
        buy(101, 4, time_in_force=IOC),
        done={10: ("expired", "ioc", 4, 0)},
        depth=([], []),
        empty_book=True,
    ),
    # ----------------------------------------------------------------------- FOK
    Row(
        "FOK exact fill",
        buy(101, 10, time_in_force=FOK),
        trades=[(1, 10, 101, 5), (2, 10, 101, 5)],
        done={**FILLED_10, 10: ("filled", "", 0, 10)},
        depth=([(99, 5), (98, 5)], [(102, 5)]),
    ),
    Row(
        "FOK needing the last lot at a worse price than its limit is refused whole",
        buy(101, 11, time_in_force=FOK),
        rejected=["fok_not_fillable"],
    ),
    Row(
        "FOK taking every lot in the book across levels",
        buy(102, 15, time_in_force=FOK),
        trades=[(1, 10, 101, 5), (2, 10, 101, 5), (3, 10, 102, 5)],
        done={**FILLED_10, 3: ("filled", "", 0, 5), 10: ("filled", "", 0, 15)},
        depth=([(99, 5), (98, 5)], []),
    ),
    Row(
        "FOK one lot more than the whole book is refused",
        buy(102, 16, time_in_force=FOK),
        rejected=["fok_not_fillable"],
    ),
    Row(
        "FOK on an empty book is refused",
        buy(101, 1, time_in_force=FOK),
        rejected=["fok_not_fillable"],
        depth=([], []),
        empty_book=True,
    ),
    Row(
        "FOK blocked by an own order under expire_taker is refused",
        Place(10, 2, BUY, LIMIT, 101, 10, FOK),
        rejected=["fok_not_fillable"],
    ),
    # -------------------------------------------------------------------- market
    Row(
        "market exact fill of the book",
        buy(None, 15),
        trades=[(1, 10, 101, 5), (2, 10, 101, 5), (3, 10, 102, 5)],
        done={**FILLED_10, 3: ("filled", "", 0, 5), 10: ("filled", "", 0, 15)},
        depth=([(99, 5), (98, 5)], []),
    ),
    Row(
        "market one lot more than the book expires the lot",
        buy(None, 16),
        trades=[(1, 10, 101, 5), (2, 10, 101, 5), (3, 10, 102, 5)],
        done={
            **FILLED_10,
            3: ("filled", "", 0, 5),
            10: ("expired", "no_liquidity", 1, 15),
        },
        depth=([(99, 5), (98, 5)], []),
    ),
    Row(
        "market sell walks the bids down",
        sell(None, 7),
        trades=[(4, 10, 99, 5), (5, 10, 98, 2)],
        done={4: ("filled", "", 0, 5), 10: ("filled", "", 0, 7)},
        depth=([(98, 3)], [(101, 10), (102, 5)]),
    ),
    Row(
        "market on an empty book is refused",
        buy(None, 1),
        rejected=["no_liquidity"],
        depth=([], []),
        empty_book=True,
    ),
    Row(
        "market buy bounded by quote alone spends exactly the quote",
        buy(None, None, quote_limit=1010),
        trades=[(1, 10, 101, 5), (2, 10, 101, 5)],
        done={**FILLED_10, 10: ("expired", "quote_limit", 0, 10)},
        depth=([(99, 5), (98, 5)], [(102, 5)]),
    ),
    Row(
        "market buy with a quote one tick short of the next lot",
        buy(None, None, quote_limit=1010 + 101),
        trades=[(1, 10, 101, 5), (2, 10, 101, 5)],
        done={**FILLED_10, 10: ("expired", "quote_limit", 0, 10)},
        depth=([(99, 5), (98, 5)], [(102, 5)]),
    ),
    Row(
        "market buy where the quote buys part of a maker",
        buy(None, None, quote_limit=1010 + 2 * 102),
        trades=[(1, 10, 101, 5), (2, 10, 101, 5), (3, 10, 102, 2)],
        done={**FILLED_10, 10: ("expired", "quote_limit", 0, 12)},
        depth=([(99, 5), (98, 5)], [(102, 3)]),
    ),
    Row(
        "market buy bounded by quantity before its quote",
        buy(None, 3, quote_limit=1000),
        trades=[(1, 10, 101, 3)],
        done={10: ("filled", "", 0, 3)},
        depth=([(99, 5), (98, 5)], [(101, 7), (102, 5)]),
    ),
    Row(
        "market buy bounded by quote before its quantity",
        buy(None, 8, quote_limit=101 * 6),
        trades=[(1, 10, 101, 5), (2, 10, 101, 1)],
        done={1: ("filled", "", 0, 5), 10: ("expired", "quote_limit", 2, 6)},
        depth=([(99, 5), (98, 5)], [(101, 4), (102, 5)]),
    ),
    # ----------------------------------------------------------------- post-only
    Row(
        "post-only bid one tick under the ask rests",
        buy(100, 2, post_only=True),
        depth=([(100, 2), (99, 5), (98, 5)], [(101, 10), (102, 5)]),
    ),
    Row(
        "post-only bid that just touches the ask is refused",
        buy(101, 2, post_only=True),
        rejected=["post_only_would_take"],
    ),
    Row(
        "post-only ask that just touches the bid is refused",
        sell(99, 2, post_only=True),
        rejected=["post_only_would_take"],
    ),
    Row(
        "post-only with IOC is meaningless and refused",
        buy(100, 2, post_only=True, time_in_force=IOC),
        rejected=["invalid_order"],
    ),
    # ----------------------------------- self-trade prevention, own order mid-level
    Row(
        "STP expire_taker: fills ahead of the own order, then the taker expires",
        Place(10, 2, BUY, LIMIT, 101, 10, stp=STP.EXPIRE_TAKER),
        trades=[(1, 10, 101, 5)],
        done={1: ("filled", "", 0, 5), 10: ("expired", "stp", 5, 5)},
        depth=([(99, 5), (98, 5)], [(101, 5), (102, 5)]),
    ),
    Row(
        "STP expire_maker: the own order expires and the taker goes on",
        Place(10, 2, BUY, LIMIT, 102, 10, stp=STP.EXPIRE_MAKER),
        trades=[(1, 10, 101, 5), (3, 10, 102, 5)],
        done={
            1: ("filled", "", 0, 5),
            2: ("expired", "stp", 5, 0),
            3: ("filled", "", 0, 5),
            10: ("filled", "", 0, 10),
        },
        depth=([(99, 5), (98, 5)], []),
    ),
    Row(
        "STP expire_both: both the own order and the taker expire",
        Place(10, 2, BUY, LIMIT, 102, 10, stp=STP.EXPIRE_BOTH),
        trades=[(1, 10, 101, 5)],
        done={
            1: ("filled", "", 0, 5),
            2: ("expired", "stp", 5, 0),
            10: ("expired", "stp", 5, 5),
        },
        depth=([(99, 5), (98, 5)], [(102, 5)]),
    ),
    # ----------------------------------------------------------------- validation
    Row("zero quantity", buy(101, 0), rejected=["invalid_quantity"]),
    Row("zero price", buy(0, 1), rejected=["invalid_price"]),
    Row(
        "market with a price",
        Place(10, 9, BUY, MARKET, 101, 1),
        rejected=["invalid_price"],
    ),
    Row(
        "quote limit on a sell",
        sell(None, 1, quote_limit=5),
        rejected=["invalid_quote_limit"],
    ),
    Row(
        "quote limit on a limit order",
        buy(101, 1, quote_limit=5),
        rejected=["invalid_quote_limit"],
    ),
    Row(
        "market buy with neither quantity nor quote",
        buy(None, None),
        rejected=["invalid_quantity"],
    ),
    Row(
        "stop price on a limit order",
        buy(100, 1, stop_price=90),
        rejected=["invalid_stop_price"],
    ),
    Row(
        "duplicate of a resting id",
        Place(1, 9, BUY, LIMIT, 90, 1),
        rejected=["duplicate_order_id"],
    ),
    Row("float price", buy(100.5, 1), rejected=["invalid_price"]),  # type: ignore[arg-type]
    Row("unknown side", Place(10, 9, "up", LIMIT, 100, 1), rejected=["invalid_order"]),  # type: ignore[arg-type]
]


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_order_type_table(row: Row, book_class: type[Book]) -> None:
    # Given the standard book (or an empty one)
    book = book_class("TEST") if row.empty_book else standard_book(book_class)
    # When the row's command arrives
    events = book.process(row.command)
    # Then exactly the expected trades, closes, refusals and depth follow
    assert trades(events) == row.trades
    assert done(events) == row.done
    assert rejections(events) == row.rejected
    assert book.depth(10) == row.depth
    assert not book.is_crossed()
    if row.rejected:
        assert events == [
            Rejected(
                book.sequence,
                row.command.order_id,
                "place",
                RejectReason(row.rejected[0]),
            )
        ]


def test_full_event_stream_of_a_sweep_with_sequence_numbers(
    book_class: type[Book],
) -> None:
    # Given the standard book at sequence 5 (five resting orders)
    book = standard_book(book_class)
    assert book.sequence == 5
    # When a buy takes the first level and part of the second
    events = book.process(Place(10, 9, BUY, LIMIT, 102, 12))
    # Then every event is there, in order; only trades and level changes count
    assert events == [
        Accepted(5, 10, 9, False),
        Trade(6, 1, 10, 1, 9, 101, 5, BUY),
        OrderDone(6, 1, 1, FILLED, NO_DETAIL, 0, 5),
        Trade(7, 2, 10, 2, 9, 101, 5, BUY),
        OrderDone(7, 2, 2, FILLED, NO_DETAIL, 0, 5),
        LevelChanged(8, SELL, 101, 0),
        Trade(9, 3, 10, 3, 9, 102, 2, BUY),
        LevelChanged(10, SELL, 102, 3),
        OrderDone(10, 10, 9, FILLED, NO_DETAIL, 0, 12),
    ]
    assert book.sequence == 10
    assert book.last_trade_price == 102


def test_resting_remainder_is_announced_as_a_level_change(
    book_class: type[Book],
) -> None:
    # Given the standard book
    book = standard_book(book_class)
    # When a buy crosses for 10 and rests 2 at its limit
    events = book.process(Place(10, 9, BUY, LIMIT, 101, 12))
    # Then the accept says it rests and the last event is its new level
    assert events[0] == Accepted(5, 10, 9, True)
    assert level_changes(events) == [("sell", 101, 0), ("buy", 101, 2)]
    assert book.get_order(10) is not None
    assert book.get_order(10).quantity == 2  # type: ignore[union-attr]
    assert book.get_order(10).filled == 10  # type: ignore[union-attr]


def test_price_time_priority_within_a_level(book_class: type[Book]) -> None:
    # Given two asks at 101 (#1 first, #2 second)
    book = standard_book(book_class)
    # When a buy takes 7
    events = book.process(Place(10, 9, BUY, LIMIT, 101, 7))
    # Then #1 fills whole before #2 starts
    assert trades(events) == [(1, 10, 101, 5), (2, 10, 101, 2)]


def test_cancel_and_its_refusals(book_class: type[Book]) -> None:
    # Given the standard book
    book = standard_book(book_class)
    # When #2 is cancelled, then cancelled again
    first = book.process(Cancel(2))
    second = book.process(Cancel(2))
    # Then the first closes it and shrinks its level; the second is refused
    assert done(first) == {2: ("cancelled", "user", 5, 0)}
    assert level_changes(first) == [("sell", 101, 5)]
    assert rejections(second) == ["unknown_order"]
    assert book.depth(1) == ([(99, 5)], [(101, 5)])
