"""Stop orders (trigger rule and order) and amend (priority rules)."""

from trading.engine import (
    Accepted,
    Amend,
    Amended,
    Book,
    Cancel,
    OrderType,
    Place,
    Side,
    StopTriggered,
)
from trading.tests.engine.helpers import (
    done,
    level_changes,
    limit,
    rejections,
    standard_book,
    trades,
)

BUY, SELL = Side.BUY, Side.SELL
STOP_MARKET, STOP_LIMIT = OrderType.STOP_MARKET, OrderType.STOP_LIMIT


def stop_market(order_id: int, owner: int, side: Side, stop: int, qty: int) -> Place:
    return Place(order_id, owner, side, STOP_MARKET, None, qty, stop_price=stop)


def triggered(events: list) -> list[int]:
    return [e.order_id for e in events if isinstance(e, StopTriggered)]


# ------------------------------------------------------------------------ stops


def test_stop_waits_until_the_last_trade_reaches_its_price(
    book_class: type[Book],
) -> None:
    # Given the standard book, no trade yet, and a buy stop at 102
    book = standard_book(book_class)
    placed = book.process(stop_market(20, 7, BUY, 102, 3))
    assert placed == [Accepted(5, 20, 7, True)]
    assert book.get_stop(20) is not None
    # When a trade prints at 101 (below the stop)
    first = book.process(limit(10, 9, BUY, 101, 1))
    # Then nothing triggers
    assert triggered(first) == []
    # When a trade prints at 102
    second = book.process(limit(11, 9, BUY, 102, 10))
    # Then the stop fires after the trade and buys at market
    assert triggered(second) == [20]
    assert trades(second)[-1] == (3, 20, 102, 3)
    assert done(second)[20] == ("filled", "", 0, 3)
    assert book.get_stop(20) is None


def test_stops_fire_in_documented_order(book_class: type[Book]) -> None:
    # Given asks deep enough and buy stops 104 (first), 103 (second), 103 (third)
    book = book_class("TEST")
    book.process_many([limit(i, 1, SELL, 100 + i, 1) for i in range(1, 8)])
    book.process_many(
        [
            stop_market(21, 2, BUY, 104, 1),
            stop_market(22, 3, BUY, 103, 1),
            stop_market(23, 4, BUY, 103, 1),
        ]
    )
    # When a buy lifts the asks up to 104
    events = book.process(limit(30, 5, BUY, 104, 4))
    # Then lowest stop price fires first, ties by arrival, one at a time
    assert triggered(events) == [22, 23, 21]
    assert trades(events)[-3:] == [(5, 22, 105, 1), (6, 23, 106, 1), (7, 21, 107, 1)]
    assert book.last_trade_price == 107


def test_triggered_stop_cascades_into_the_next_stop(book_class: type[Book]) -> None:
    # Given asks at 101 and 105, and sell... rather a buy stop at 101 and one at 105
    book = book_class("TEST")
    book.process_many([limit(1, 1, SELL, 101, 1), limit(2, 1, SELL, 105, 1)])
    book.process_many(
        [stop_market(21, 2, BUY, 101, 1), stop_market(22, 3, BUY, 105, 1)]
    )
    book.process(limit(3, 1, SELL, 106, 1))
    # When a trade prints at 101
    events = book.process(limit(10, 4, BUY, 101, 1))
    # Then #21 fires, buys at 105, which fires #22, which buys at 106
    assert triggered(events) == [21, 22]
    assert trades(events) == [(1, 10, 101, 1), (2, 21, 105, 1), (3, 22, 106, 1)]


def test_sell_stop_limit_fires_on_a_falling_price_and_rests(
    book_class: type[Book],
) -> None:
    # Given the standard book and a sell stop-limit: stop 99, limit 98
    book = standard_book(book_class)
    book.process(Place(20, 7, SELL, STOP_LIMIT, 98, 20, stop_price=99))
    # When a trade prints at 99
    events = book.process(limit(10, 9, SELL, 99, 1))
    # Then the stop becomes a limit sell at 98: it takes 4 at 99, 5 at 98, rests 11
    assert triggered(events) == [20]
    assert trades(events)[1:] == [(4, 20, 99, 4), (5, 20, 98, 5)]
    assert book.depth(1) == ([], [(98, 11)])


def test_stop_already_triggered_on_arrival_fires_at_once(
    book_class: type[Book],
) -> None:
    # Given a last trade price of 101
    book = standard_book(book_class)
    book.process(limit(10, 9, BUY, 101, 1))
    # When a buy stop at 100 arrives (the price is already above it)
    events = book.process(stop_market(20, 7, BUY, 100, 2))
    # Then it is accepted, fires and fills in the same command
    assert events[0] == Accepted(7, 20, 7, False)
    assert triggered(events) == [20]
    assert trades(events) == [(1, 20, 101, 2)]


def test_triggered_stop_market_on_an_empty_side_expires(book_class: type[Book]) -> None:
    # Given one ask, one bid and a buy stop at 101
    book = book_class("TEST")
    book.process_many([limit(1, 1, SELL, 101, 1), stop_market(20, 7, BUY, 101, 5)])
    # When the only ask is taken
    events = book.process(limit(10, 2, BUY, 101, 1))
    # Then the stop fires into an empty side and expires unfilled
    assert triggered(events) == [20]
    assert done(events)[20] == ("expired", "no_liquidity", 5, 0)


def test_cancel_a_waiting_stop_and_amend_is_refused(book_class: type[Book]) -> None:
    # Given a waiting stop
    book = standard_book(book_class)
    book.process(stop_market(20, 7, BUY, 110, 3))
    # When it is amended, then cancelled
    amended = book.process(Amend(20, new_quantity=1))
    cancelled = book.process(Cancel(20))
    # Then the amend is refused and the cancel closes it
    assert rejections(amended) == ["not_amendable"]
    assert done(cancelled) == {20: ("cancelled", "user", 3, 0)}
    assert book.stop_orders() == []


# ------------------------------------------------------------------------ amend


def test_amend_down_keeps_time_priority(book_class: type[Book]) -> None:
    # Given #1 then #2 at 101
    book = standard_book(book_class)
    # When #1 is cut from 5 to 2
    events = book.process(Amend(1, new_quantity=2))
    # Then it keeps its place and the level shrinks by 3
    assert events[0] == Amended(5, 1, 1, 101, 2, True)
    assert level_changes(events) == [("sell", 101, 7)]
    assert trades(book.process(limit(10, 9, BUY, 101, 3))) == [
        (1, 10, 101, 2),
        (2, 10, 101, 1),
    ]


def test_amend_up_loses_time_priority(book_class: type[Book]) -> None:
    # Given #1 then #2 at 101
    book = standard_book(book_class)
    # When #1 grows from 5 to 6
    events = book.process(Amend(1, new_quantity=6))
    # Then it goes behind #2
    assert events[0] == Amended(5, 1, 1, 101, 6, False)
    assert level_changes(events) == [("sell", 101, 5), ("sell", 101, 11)]
    assert trades(book.process(limit(10, 9, BUY, 101, 6))) == [
        (2, 10, 101, 5),
        (1, 10, 101, 1),
    ]


def test_amend_to_a_crossing_price_trades_as_a_taker(book_class: type[Book]) -> None:
    # Given bid #4 at 99
    book = standard_book(book_class)
    # When it is moved to 101
    events = book.process(Amend(4, new_price=101))
    # Then it takes #1 whole at 101 and is filled
    assert trades(events) == [(1, 4, 101, 5)]
    assert done(events) == {1: ("filled", "", 0, 5), 4: ("filled", "", 0, 5)}
    assert book.get_order(4) is None


def test_amend_refusals(book_class: type[Book]) -> None:
    # Given the standard book and a post-only bid at 100
    book = standard_book(book_class)
    book.process(Place(10, 9, BUY, price=100, quantity=1, post_only=True))
    # Then each bad amend is refused and changes nothing
    before = book.state_hash()
    assert rejections(book.process(Amend(99, new_quantity=1))) == ["unknown_order"]
    assert rejections(book.process(Amend(1))) == ["nothing_to_amend"]
    assert rejections(book.process(Amend(1, new_quantity=0))) == ["invalid_quantity"]
    assert rejections(book.process(Amend(1, new_price=-5))) == ["invalid_price"]
    assert rejections(book.process(Amend(10, new_price=101))) == [
        "post_only_would_take"
    ]
    assert book.state_hash() == before
