"""DAY orders on both books: they rest (and wait, as stops) like GTC until
``ExpireDay`` ends the trading day, then expire with detail "day"; a snapshot
keeps what is DAY; and a hypothesis property against a literal rule."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from trading.engine import (
    Accepted,
    Amend,
    Book,
    DoneDetail,
    DoneReason,
    ExpireDay,
    LevelChanged,
    OrderBook,
    OrderDone,
    OrderType,
    Phase,
    Place,
    PlaceOco,
    ReferenceBook,
    RestingOrder,
    SetPhase,
    Side,
    TimeInForce,
    Uncross,
)
from trading.tests.engine.helpers import done, rejections, standard_book, trades

BUY, SELL = Side.BUY, Side.SELL
DAY, GTC = TimeInForce.DAY, TimeInForce.GTC
EXPIRED, D_DAY = DoneReason.EXPIRED, DoneDetail.DAY


def day(order_id: int, side: Side, price: int, quantity: int) -> Place:
    return Place(order_id, 9, side, OrderType.LIMIT, price, quantity, DAY)


def test_a_day_order_rests_like_gtc_until_the_day_ends(book_class: type[Book]):
    # Given a DAY bid resting at 100 next to the standard book's GTC orders
    book = standard_book(book_class)
    assert book.process(day(10, BUY, 100, 3)) == [
        Accepted(5, 10, 9, True),
        LevelChanged(6, BUY, 100, 3),
    ]
    assert book.get_order(10) == RestingOrder(10, 9, BUY, 100, 3, day=True)
    assert book.get_order(4) == RestingOrder(4, 4, BUY, 99, 5)
    # When the day ends
    events = book.process(ExpireDay())
    # Then it alone expires, with detail "day"; the GTC orders carry over
    assert events == [
        OrderDone(6, 10, 9, EXPIRED, D_DAY, 3, 0),
        LevelChanged(7, BUY, 100, 0),
    ]
    assert book.open_order_count() == 5
    # And a second end of day finds nothing
    assert book.process(ExpireDay()) == []


def test_a_partly_filled_day_order_expires_for_its_remainder(book_class):
    # Given a DAY buy at 101 for 12 that takes 10 and rests 2
    book = standard_book(book_class)
    events = book.process(day(10, BUY, 101, 12))
    assert trades(events) == [(1, 10, 101, 5), (2, 10, 101, 5)]
    # When the day ends
    # Then it expires with 2 left and 10 filled
    assert done(book.process(ExpireDay())) == {10: ("expired", "day", 2, 10)}


def test_day_orders_expire_lowest_id_first_stops_and_repriced_alike(book_class):
    # Given a DAY stop (id 12), a DAY sell repriced by an amend (id 11) and a
    # DAY bid (id 10), placed in that order
    book = standard_book(book_class)
    stop = Place(12, 9, BUY, OrderType.STOP_LIMIT, 110, 3, DAY, stop_price=108)
    book.process_many([stop, day(11, SELL, 105, 4), day(10, BUY, 97, 2)])
    book.process(Amend(11, new_price=106))
    assert book.get_order(11) == RestingOrder(11, 9, SELL, 106, 4, day=True)
    assert book.get_stop(12) == stop
    # When the day ends
    events = book.process(ExpireDay())
    # Then all three expire, by id
    assert [e.order_id for e in events if isinstance(e, OrderDone)] == [10, 11, 12]
    assert done(events) == {
        10: ("expired", "day", 2, 0),
        11: ("expired", "day", 4, 0),
        12: ("expired", "day", 3, 0),
    }
    assert book.open_order_count() == 5


def test_a_triggered_day_stop_limit_rests_as_day(book_class: type[Book]) -> None:
    # Given a DAY stop-limit buy 3 at 103, triggered at 101
    book = standard_book(book_class)
    book.process(Place(10, 9, BUY, OrderType.STOP_LIMIT, 103, 3, DAY, stop_price=101))
    book.process(Place(11, 8, BUY, OrderType.LIMIT, 101, 1))
    # Then it trades what crosses and rests as a DAY order, until the day ends
    assert book.get_stop(10) is None
    resting = book.get_order(10)
    assert resting is None or resting.day
    book.process(Place(12, 7, SELL, OrderType.LIMIT, 104, 30))
    assert all(not o.day for o in book.resting_orders(SELL))


def test_a_day_market_order_is_a_market_order(book_class: type[Book]) -> None:
    # Given a plain market buy with DAY
    book = standard_book(book_class)
    events = book.process(Place(10, 9, BUY, OrderType.MARKET, None, 20, DAY))
    # Then it takes what there is and its remainder expires, as with GTC
    assert done(events)[10] == ("expired", "no_liquidity", 5, 15)


def test_day_rests_in_a_call_and_expires_after_the_closing_uncross(book_class):
    # Given a call with a DAY buy 5 at 101 and a GTC sell 3 at 100
    book = book_class.from_resting("TEST", ())
    book.process(SetPhase(Phase.CALL))
    events = book.process_many(
        [day(1, BUY, 101, 5), Place(2, 8, SELL, OrderType.LIMIT, 100, 3, GTC)]
    )
    assert rejections(events) == []
    # When the closing uncross runs into CLOSED, then the day ends
    uncross = book.process(Uncross(Phase.CLOSED))
    assert trades(uncross) == [(2, 1, 101, 3)]
    # Then the DAY order expires for its remainder (2 of 5), in CLOSED too
    assert done(book.process(ExpireDay())) == {1: ("expired", "day", 2, 3)}
    assert book.open_order_count() == 0


def test_post_only_may_be_day_and_day_cannot_be_oco(book_class: type[Book]):
    book = standard_book(book_class)
    post = day(10, BUY, 100, 1)._replace(post_only=True)
    assert book.process(post)[0] == Accepted(5, 10, 9, True)
    limit_leg = day(11, BUY, 96, 2)
    stop_leg = Place(12, 9, BUY, OrderType.STOP_MARKET, None, 2, DAY, stop_price=104)
    assert rejections(book.process(PlaceOco(limit_leg, stop_leg))) == ["invalid_oco"]


def test_a_snapshot_keeps_what_is_day(book_class: type[Book]) -> None:
    # Given DAY and GTC orders and a DAY stop
    book = standard_book(book_class)
    book.process_many(
        [
            day(10, BUY, 100, 3),
            Place(11, 9, SELL, OrderType.STOP_MARKET, None, 2, DAY, stop_price=90),
        ]
    )
    snapshot = book.snapshot()
    assert snapshot["format"] == 4
    bids = snapshot["bids"]
    assert isinstance(bids, list)
    assert bids[0] == [10, 9, 100, 3, 0, "expire_taker", False, None, None, True]
    # When it is restored through JSON, and also rebuilt from resting rows
    restored = book_class.restore(json.loads(json.dumps(snapshot)))
    rebuilt = book_class.from_resting(
        "TEST",
        book.resting_orders(BUY) + book.resting_orders(SELL),
        book.stop_orders(),
        book.sequence,
        book.last_trade_price,
    )
    # Then all three end the day alike
    assert restored.state_hash() == book.state_hash()
    expected = book.process(ExpireDay())
    assert done(expected) == {
        10: ("expired", "day", 3, 0),
        11: ("expired", "day", 2, 0),
    }
    assert restored.process(ExpireDay()) == expected
    assert done(rebuilt.process(ExpireDay())) == done(expected)


def test_a_reused_id_is_day_only_if_placed_day(book_class: type[Book]) -> None:
    # Given a DAY order that filled, then a GTC order under the same id
    book = standard_book(book_class)
    book.process(day(10, BUY, 101, 5))
    assert book.get_order(10) is None
    book.process(Place(10, 9, BUY, OrderType.LIMIT, 97, 1, GTC))
    # Then the end of the day leaves it alone
    assert book.process(ExpireDay()) == []
    assert book.get_order(10) == RestingOrder(10, 9, BUY, 97, 1)


# --------------------------------------------------------- property

orders = st.lists(
    st.tuples(
        st.sampled_from([BUY, SELL]),
        st.integers(95, 105),
        st.integers(1, 5),
        st.sampled_from([GTC, DAY, TimeInForce.IOC]),
    ),
    max_size=30,
)


@settings(max_examples=150, deadline=None)
@given(orders=orders, kind=st.sampled_from(["fast", "reference"]))
def test_expire_day_leaves_exactly_the_open_non_day_orders(orders, kind) -> None:
    # Given any flow of GTC, DAY and IOC limit orders
    book = (OrderBook if kind == "fast" else ReferenceBook)("P")
    placed: dict[int, TimeInForce] = {}
    for order_id, (side, price, quantity, tif) in enumerate(orders, start=1):
        book.process(Place(order_id, order_id % 3, side, price=price,
                           quantity=quantity, time_in_force=tif))  # fmt: skip
        placed[order_id] = tif
    before = book.resting_orders(BUY) + book.resting_orders(SELL)
    # When the day ends
    events = book.process(ExpireDay())
    # Then (the literal rule) every open order placed DAY expires with what it
    # had left, lowest id first, and exactly the others stay as they were
    open_day = sorted(o.order_id for o in before if placed[o.order_id] is DAY)
    left = {o.order_id: o.quantity for o in before}
    expired = [e for e in events if isinstance(e, OrderDone)]
    assert [e.order_id for e in expired] == open_day
    assert all(e.detail is D_DAY and e.remaining_quantity == left[e.order_id]
               for e in expired)  # fmt: skip
    after = book.resting_orders(BUY) + book.resting_orders(SELL)
    assert after == [o for o in before if placed[o.order_id] is not DAY]
