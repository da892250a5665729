"""Good-till-date, OCO pairs and trailing stops, scenario by scenario, on both books.

Every scenario starts from ``standard_book`` (asks 101: #1 5, #2 5; 102: #3 5;
bids 99: #4 5; 98: #5 5; sequence 5, no last price) unless it says otherwise,
and states the exact events.
"""

import pytest

from trading.engine import (
    Accepted,
    Amend,
    Amended,
    Book,
    DoneDetail,
    DoneReason,
    ExpireDue,
    LevelChanged,
    OrderDone,
    OrderType,
    Place,
    Rejected,
    RejectReason,
    RestingOrder,
    Side,
    StopTriggered,
    TimeInForce,
    Trade,
)
from trading.tests.engine.helpers import limit, rejections, standard_book

BUY, SELL = Side.BUY, Side.SELL
GTD = TimeInForce.GTD
EXPIRED, CANCELLED, FILLED = DoneReason.EXPIRED, DoneReason.CANCELLED, DoneReason.FILLED
D_GTD, D_OCO, D_USER = DoneDetail.GTD, DoneDetail.OCO, DoneDetail.USER
D_NONE = DoneDetail.NONE
STOP_LIMIT, STOP_MARKET = OrderType.STOP_LIMIT, OrderType.STOP_MARKET


def gtd(order_id: int, side: Side, price: int, quantity: int, at: int) -> Place:
    return Place(
        order_id, 9, side, price=price, quantity=quantity, time_in_force=GTD,
        expire_at=at,
    )  # fmt: skip


# --------------------------------------------------------------------------- GTD


def test_a_gtd_order_rests_until_expire_due_reaches_its_time(
    book_class: type[Book],
) -> None:
    # Given a GTD bid resting at 100 until t=1000
    book = standard_book(book_class)
    assert book.process(gtd(10, BUY, 100, 3, 1000)) == [
        Accepted(5, 10, 9, True),
        LevelChanged(6, BUY, 100, 3),
    ]
    assert book.get_order(10) == RestingOrder(10, 9, BUY, 100, 3, expire_at=1000)
    # When the clock reaches 999, then 1000
    assert book.process(ExpireDue(999)) == []
    # Then it expires at 1000, not before
    assert book.process(ExpireDue(1000)) == [
        OrderDone(6, 10, 9, EXPIRED, D_GTD, 3, 0),
        LevelChanged(7, BUY, 100, 0),
    ]
    assert book.get_order(10) is None
    assert book.snapshot()["clock"] == 1000


def test_a_gtd_order_expires_with_what_it_filled_and_trades_like_gtc(
    book_class: type[Book],
) -> None:
    # Given a GTD buy at 101 for 7 that takes the 5 of #1 then rests 2
    book = standard_book(book_class)
    events = book.process(gtd(10, BUY, 101, 12, 50))
    assert events == [
        Accepted(5, 10, 9, True),
        Trade(6, 1, 10, 1, 9, 101, 5, BUY),
        OrderDone(6, 1, 1, FILLED, D_NONE, 0, 5),
        Trade(7, 2, 10, 2, 9, 101, 5, BUY),
        OrderDone(7, 2, 2, FILLED, D_NONE, 0, 5),
        LevelChanged(8, SELL, 101, 0),
        LevelChanged(9, BUY, 101, 2),
    ]
    # When its time comes
    assert book.process(ExpireDue(60)) == [
        OrderDone(9, 10, 9, EXPIRED, D_GTD, 2, 10),
        LevelChanged(10, BUY, 101, 0),
    ]


def test_a_gtd_order_that_arrives_too_late_is_accepted_then_expired_untraded(
    book_class: type[Book],
) -> None:
    # Given a clock at 1000
    book = standard_book(book_class)
    book.process(ExpireDue(1000))
    before = book.snapshot()
    # When a crossing GTD order due at 1000 comes in
    events = book.process(gtd(10, BUY, 102, 3, 1000))
    # Then it is not a rejection, but nothing trades and nothing rests
    assert events == [
        Accepted(5, 10, 9, False),
        OrderDone(5, 10, 9, EXPIRED, D_GTD, 3, 0),
    ]
    assert book.snapshot() == before
    # And a stop arriving too late is treated alike
    late_stop = Place(
        11, 9, SELL, STOP_MARKET, quantity=2, stop_price=90, time_in_force=GTD,
        expire_at=999,
    )  # fmt: skip
    assert book.process(late_stop) == [
        Accepted(5, 11, 9, False),
        OrderDone(5, 11, 9, EXPIRED, D_GTD, 2, 0),
    ]


def test_the_clock_never_goes_back(book_class: type[Book]) -> None:
    book = standard_book(book_class)
    book.process(gtd(10, BUY, 100, 3, 1000))
    assert book.process(ExpireDue(500)) == []
    assert book.process(ExpireDue(400)) == []  # a smaller now changes nothing
    assert book.snapshot()["clock"] == 500
    assert book.process(ExpireDue(1000))[0] == OrderDone(6, 10, 9, EXPIRED, D_GTD, 3, 0)


def test_due_orders_expire_by_time_then_id_resting_and_stops_alike(
    book_class: type[Book],
) -> None:
    # Given a resting GTD at t=60 (#11), another at t=50 (#12), a GTD stop at 50
    book = standard_book(book_class)
    book.process_many(
        [
            gtd(11, BUY, 97, 1, 60),
            gtd(12, SELL, 105, 2, 50),
            Place(13, 9, SELL, STOP_LIMIT, 90, 4, GTD, stop_price=91, expire_at=50),
            gtd(14, BUY, 96, 1, 70),
        ]
    )
    # When the clock jumps to 65
    events = book.process(ExpireDue(65))
    # Then 12 and 13 (t=50, by id) then 11 (t=60) expire; 14 stays
    assert events == [
        OrderDone(8, 12, 9, EXPIRED, D_GTD, 2, 0),
        LevelChanged(9, SELL, 105, 0),
        OrderDone(9, 13, 9, EXPIRED, D_GTD, 4, 0),
        OrderDone(9, 11, 9, EXPIRED, D_GTD, 1, 0),
        LevelChanged(10, BUY, 97, 0),
    ]
    assert book.get_order(14) is not None


def test_a_gtd_stop_limit_rests_with_its_expiry_once_triggered(
    book_class: type[Book],
) -> None:
    # Given a GTD buy stop-limit at stop 101, limit 101, for 12, due at 500
    book = standard_book(book_class)
    stop = Place(10, 9, BUY, STOP_LIMIT, 101, 12, GTD, stop_price=101, expire_at=500)
    assert book.process(stop) == [Accepted(5, 10, 9, True)]
    # When a trade at 101 triggers it, it takes 101 and rests the rest
    events = book.process(limit(11, 8, BUY, 101, 1))
    assert StopTriggered(7, 10, 9, 101, 101) in events
    assert book.get_order(10) == RestingOrder(10, 9, BUY, 101, 3, 9, expire_at=500)
    # Then it still expires at its time
    assert book.process(ExpireDue(500)) == [
        OrderDone(11, 10, 9, EXPIRED, D_GTD, 3, 9),
        LevelChanged(12, BUY, 101, 0),
    ]


def test_a_repriced_gtd_order_keeps_its_expiry(book_class: type[Book]) -> None:
    book = standard_book(book_class)
    book.process(gtd(10, BUY, 97, 2, 300))
    assert book.process(Amend(10, new_price=96)) == [
        Amended(6, 10, 9, 96, 2, False),
        LevelChanged(7, BUY, 97, 0),
        LevelChanged(8, BUY, 96, 2),
    ]
    assert book.get_order(10) == RestingOrder(10, 9, BUY, 96, 2, expire_at=300)
    assert book.process(ExpireDue(300))[0] == OrderDone(8, 10, 9, EXPIRED, D_GTD, 2, 0)


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (Place(10, 9, BUY, price=100, quantity=1, time_in_force=GTD), "invalid_expiry"),
        (Place(10, 9, BUY, price=100, quantity=1, expire_at=5), "invalid_expiry"),
        (gtd(10, BUY, 100, 1, 0), "invalid_expiry"),
        (gtd(10, BUY, 100, 1, -5), "invalid_expiry"),
        (
            Place(
                10, 9, BUY, OrderType.MARKET, quantity=1, time_in_force=GTD,
                expire_at=5,
            ),
            "invalid_expiry",
        ),
        (
            Place(
                10, 9, BUY, price=100, quantity=1, time_in_force=TimeInForce.IOC,
                expire_at=5,
            ),
            "invalid_expiry",
        ),
        (Place(10, 9, BUY, price=100, quantity=1, oco_with=3), "invalid_oco"),
    ],
)  # fmt: skip
def test_expiry_mistakes_are_rejected(
    book_class: type[Book], command: Place, reason: str
) -> None:
    book = standard_book(book_class)
    assert rejections(book.process(command)) == [reason]
    assert book.get_order(10) is None


def test_post_only_may_be_gtd_and_a_bad_expire_due_is_rejected(
    book_class: type[Book],
) -> None:
    book = standard_book(book_class)
    post_only = gtd(10, BUY, 100, 1, 50)._replace(post_only=True)
    assert book.process(post_only)[0] == Accepted(5, 10, 9, True)
    assert book.process(ExpireDue("soon")) == [  # type: ignore[arg-type]
        Rejected(6, None, "expire", RejectReason.INVALID_EXPIRY)
    ]
