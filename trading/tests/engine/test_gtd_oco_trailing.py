"""Good-till-date, OCO pairs and trailing stops, scenario by scenario, on both books.

Every scenario starts from ``standard_book`` (asks 101: #1 5, #2 5; 102: #3 5;
bids 99: #4 5; 98: #5 5; sequence 5, no last price) unless it says otherwise,
and states the exact events.
"""

from typing import Any

import pytest

from trading.engine import (
    STP,
    Accepted,
    Amend,
    Amended,
    Book,
    Cancel,
    DoneDetail,
    DoneReason,
    ExpireDue,
    LevelChanged,
    OrderDone,
    OrderType,
    Place,
    PlaceOco,
    Rejected,
    RejectReason,
    RestingOrder,
    Side,
    StopMoved,
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


# --------------------------------------------------------------------------- OCO


def sell_pair(
    limit_price: int = 103,
    stop_price: int = 97,
    tif: TimeInForce = TimeInForce.GTC,
    at: int | None = None,
) -> PlaceOco:
    """Owner 9 sells 4: take profit at ``limit_price`` (#10), or stop out with a
    stop-market at ``stop_price`` (#11)."""
    return PlaceOco(
        Place(10, 9, SELL, price=limit_price, quantity=4, time_in_force=tif,
              expire_at=at),
        Place(11, 9, SELL, STOP_MARKET, quantity=4, stop_price=stop_price,
              time_in_force=tif, expire_at=at),
    )  # fmt: skip


def test_an_oco_pair_parks_the_stop_then_places_the_limit_linked(
    book_class: type[Book],
) -> None:
    book = standard_book(book_class)
    assert book.process(sell_pair()) == [
        Accepted(5, 11, 9, True),
        Accepted(5, 10, 9, True),
        LevelChanged(6, SELL, 103, 4),
    ]
    assert book.get_order(10) == RestingOrder(10, 9, SELL, 103, 4, oco_with=11)
    stop = book.get_stop(11)
    assert stop is not None and (stop.stop_price, stop.oco_with) == (97, 10)


def test_an_oco_pair_of_plain_strings_is_the_pair_of_enums(
    book_class: type[Book],
) -> None:
    """An adapter may pass "sell" for Side.SELL in any Place, OCO legs included
    (the compiled build once raised TypeError on them)."""
    pair = sell_pair()
    as_text: Any = str  # what the types say is an enum, sent as its plain text
    plain = PlaceOco(
        *(
            leg._replace(
                side=as_text(leg.side),
                type=as_text(leg.type),
                time_in_force=as_text(leg.time_in_force),
                stp=as_text(leg.stp),
            )
            for leg in pair
        )
    )
    assert type(plain.limit.side) is str
    assert standard_book(book_class).process(plain) == standard_book(
        book_class
    ).process(pair)
    book = standard_book(book_class)
    book.process(plain)
    assert book.get_order(10) == RestingOrder(10, 9, SELL, 103, 4, oco_with=11)


def test_the_first_fill_of_the_limit_leg_cancels_the_stop_leg_at_once(
    book_class: type[Book],
) -> None:
    # Given the pair, and a buyer who sweeps the asks up to 103 for 16
    book = standard_book(book_class)
    book.process(sell_pair())
    events = book.process(limit(12, 8, BUY, 103, 16))
    # Then right after the limit leg's first (partial) fill, the stop leg goes
    assert events[-4:] == [
        Trade(12, 10, 12, 9, 8, 103, 1, BUY),
        OrderDone(12, 11, 9, CANCELLED, D_OCO, 4, 0),
        LevelChanged(13, SELL, 103, 3),
        OrderDone(13, 12, 8, FILLED, D_NONE, 0, 16),
    ]
    # And the rest of the limit leg stays on the book, unlinked and amendable
    assert book.get_order(10) == RestingOrder(10, 9, SELL, 103, 3, 1)
    assert book.get_stop(11) is None
    assert book.process(Amend(10, new_quantity=2))[0] == Amended(
        13, 10, 9, 103, 2, True
    )


def test_a_marketable_limit_leg_cancels_its_stop_leg_on_entry(
    book_class: type[Book],
) -> None:
    book = standard_book(book_class)
    assert book.process(sell_pair(limit_price=99, stop_price=90)) == [
        Accepted(5, 11, 9, True),
        Accepted(5, 10, 9, False),
        Trade(6, 4, 10, 4, 9, 99, 4, SELL),
        OrderDone(6, 11, 9, CANCELLED, D_OCO, 4, 0),
        LevelChanged(7, BUY, 99, 1),
        OrderDone(7, 10, 9, FILLED, D_NONE, 0, 4),
    ]
    assert book.open_order_count() == 5


def test_the_stop_leg_triggering_cancels_the_limit_leg_first(
    book_class: type[Book],
) -> None:
    # Given the pair and a seller who empties the bids and rests 1 at 97
    book = standard_book(book_class)
    book.process_many([sell_pair(), limit(12, 8, SELL, 97, 11)])
    # When a trade prints at 97
    events = book.process(limit(13, 7, BUY, 97, 1))
    # Then the stop fires, the limit leg is cancelled, then the stop order runs
    assert events[-4:] == [
        StopTriggered(13, 11, 9, 97, 97),
        OrderDone(13, 10, 9, CANCELLED, D_OCO, 4, 0),
        LevelChanged(14, SELL, 103, 0),
        OrderDone(14, 11, 9, EXPIRED, DoneDetail.NO_LIQUIDITY, 4, 0),
    ]


def test_cancelling_either_leg_cancels_both(book_class: type[Book]) -> None:
    book = standard_book(book_class)
    book.process(sell_pair())
    assert book.process(Cancel(11)) == [
        OrderDone(6, 11, 9, CANCELLED, D_USER, 4, 0),
        OrderDone(6, 10, 9, CANCELLED, D_OCO, 4, 0),
        LevelChanged(7, SELL, 103, 0),
    ]
    book = standard_book(book_class)
    book.process(sell_pair())
    assert book.process(Cancel(10)) == [
        OrderDone(6, 10, 9, CANCELLED, D_USER, 4, 0),
        LevelChanged(7, SELL, 103, 0),
        OrderDone(7, 11, 9, CANCELLED, D_OCO, 4, 0),
    ]
    assert book.open_order_count() == 5


def test_neither_leg_can_be_amended(book_class: type[Book]) -> None:
    book = standard_book(book_class)
    book.process(sell_pair())
    assert book.process(Amend(10, new_quantity=1)) == [
        Rejected(6, 10, "amend", RejectReason.NOT_AMENDABLE)
    ]
    assert book.process(Amend(11, new_quantity=1)) == [
        Rejected(6, 11, "amend", RejectReason.NOT_AMENDABLE)
    ]


def test_a_gtd_pair_expires_whole(book_class: type[Book]) -> None:
    book = standard_book(book_class)
    book.process(sell_pair(tif=GTD, at=100))
    assert book.process(ExpireDue(100)) == [
        OrderDone(6, 10, 9, EXPIRED, D_GTD, 4, 0),
        LevelChanged(7, SELL, 103, 0),
        OrderDone(7, 11, 9, EXPIRED, D_GTD, 4, 0),
    ]
    # And a pair already due arrives expired, stop leg first
    assert book.process(sell_pair(tif=GTD, at=100)) == [
        Accepted(7, 11, 9, False),
        OrderDone(7, 11, 9, EXPIRED, D_GTD, 4, 0),
        Accepted(7, 10, 9, False),
        OrderDone(7, 10, 9, EXPIRED, D_GTD, 4, 0),
    ]


def test_a_self_trade_expiry_of_the_limit_leg_cancels_the_stop_leg(
    book_class: type[Book],
) -> None:
    # Given the pair, and its owner buying up to 103 in expire-maker mode
    book = standard_book(book_class)
    book.process(sell_pair())
    command = Place(12, 9, BUY, price=103, quantity=16, stp=STP.EXPIRE_MAKER)
    events = book.process(command)
    # Then the own limit leg expires (STP), its stop leg is cancelled (OCO)
    assert events[-4:] == [
        OrderDone(11, 10, 9, EXPIRED, DoneDetail.STP, 4, 0),
        OrderDone(11, 11, 9, CANCELLED, D_OCO, 4, 0),
        LevelChanged(12, SELL, 103, 0),
        LevelChanged(13, BUY, 103, 1),
    ]


def oco(limit_leg: Place, stop_leg: Place) -> PlaceOco:
    return PlaceOco(limit_leg, stop_leg)


LIMIT_LEG = Place(10, 9, SELL, price=103, quantity=4)
STOP_LEG = Place(11, 9, SELL, STOP_MARKET, quantity=4, stop_price=97)


@pytest.mark.parametrize(
    ("command", "reason"),
    [
        (oco(LIMIT_LEG, STOP_LEG._replace(owner=8)), "invalid_oco"),
        (oco(LIMIT_LEG, STOP_LEG._replace(side=BUY)), "invalid_oco"),
        (oco(LIMIT_LEG, STOP_LEG._replace(quantity=3)), "invalid_oco"),
        (oco(LIMIT_LEG, STOP_LEG._replace(order_id=10)), "invalid_oco"),
        (oco(LIMIT_LEG, LIMIT_LEG._replace(order_id=11)), "invalid_oco"),
        (oco(STOP_LEG, LIMIT_LEG), "invalid_oco"),
        (
            oco(
                LIMIT_LEG._replace(time_in_force=TimeInForce.IOC),
                STOP_LEG._replace(time_in_force=TimeInForce.IOC),
            ),
            "invalid_oco",
        ),
        (oco(LIMIT_LEG._replace(time_in_force=GTD, expire_at=9), STOP_LEG),
         "invalid_oco"),
        (oco(LIMIT_LEG, STOP_LEG._replace(time_in_force=GTD)), "invalid_oco"),
        (oco(LIMIT_LEG._replace(price=0), STOP_LEG), "invalid_price"),
        (oco(LIMIT_LEG, STOP_LEG._replace(stop_price=0)), "invalid_stop_price"),
        (oco(LIMIT_LEG._replace(order_id=3), STOP_LEG), "duplicate_order_id"),
        (oco(LIMIT_LEG, STOP_LEG._replace(order_id=3)), "duplicate_order_id"),
        (oco(LIMIT_LEG, STOP_LEG._replace(stop_price=None, trail_amount=2)),
         "no_reference_price"),
        (oco(LIMIT_LEG._replace(price=99, post_only=True), STOP_LEG),
         "post_only_would_take"),
        (PlaceOco(LIMIT_LEG, Cancel(11)), "invalid_oco"),  # type: ignore[arg-type]
    ],
)  # fmt: skip
def test_a_bad_pair_is_rejected_whole_under_the_limit_legs_id(
    book_class: type[Book], command: PlaceOco, reason: str
) -> None:
    book = standard_book(book_class)
    before = book.snapshot()
    events = book.process(command)
    assert len(events) == 1 and rejections(events) == [reason]
    assert events[0].order_id == command.limit.order_id  # type: ignore[attr-defined]
    assert book.snapshot() == before


def test_a_stop_leg_that_would_trigger_at_once_rejects_the_pair(
    book_class: type[Book],
) -> None:
    # Given a last price of 101
    book = standard_book(book_class)
    book.process(limit(12, 8, BUY, 101, 1))
    before = book.snapshot()
    # When the pair's sell stop is at 101 (at the last price)
    events = book.process(sell_pair(stop_price=101))
    # Then nothing is placed
    assert events == [Rejected(7, 10, "place", RejectReason.INVALID_STOP_PRICE)]
    assert book.snapshot() == before


def test_from_resting_keeps_oco_links_and_refuses_broken_ones(
    book_class: type[Book],
) -> None:
    # Given a pair as the database holds it
    orders = [RestingOrder(10, 9, SELL, 103, 4, oco_with=11)]
    stops = [Place(11, 9, SELL, STOP_MARKET, None, 4, stop_price=97, oco_with=10)]
    book = book_class.from_resting("X", orders, stops, last_price=100)
    # Then the link works as if it had been placed
    assert book.process(Cancel(11)) == [
        OrderDone(0, 11, 9, CANCELLED, D_USER, 4, 0),
        OrderDone(0, 10, 9, CANCELLED, D_OCO, 4, 0),
        LevelChanged(1, SELL, 103, 0),
    ]
    # And one-sided or dangling links are refused
    with pytest.raises(ValueError, match="OCO"):
        book_class.from_resting("X", orders, [stops[0]._replace(oco_with=None)])
    with pytest.raises(ValueError, match="OCO"):
        book_class.from_resting("X", orders, [])


# ---------------------------------------------------------------- trailing stops


def traded_at_101(book_class: type[Book]) -> Book:
    """The standard book after one lot printed at 101 (#1 has 4 left; seq 7)."""
    book = standard_book(book_class)
    book.process(limit(12, 8, BUY, 101, 1))
    return book


def test_a_trailing_sell_stop_follows_the_price_up_and_fires_on_the_way_down(
    book_class: type[Book],
) -> None:
    # Given a sell stop trailing 3 ticks under the last price 101: stop 98
    book = traded_at_101(book_class)
    trailing = Place(20, 9, SELL, STOP_MARKET, quantity=2, trail_amount=3)
    assert book.process(trailing) == [Accepted(7, 20, 9, True)]
    stop = book.get_stop(20)
    assert stop is not None and (stop.stop_price, stop.trail_amount) == (98, 3)
    # When a buyer lifts the offers to 102
    events = book.process(limit(21, 8, BUY, 102, 10))
    # Then the stop moves to 99 right after the trade at 102 (101 moved nothing)
    assert events[6:9] == [
        Trade(11, 3, 21, 3, 8, 102, 1, BUY),
        StopMoved(11, 20, 9, 99),
        LevelChanged(12, SELL, 102, 4),
    ]
    assert [e for e in events if isinstance(e, StopMoved)] == [StopMoved(11, 20, 9, 99)]
    # And a trade back down at 99 fires it
    events = book.process(limit(22, 7, SELL, 99, 1))
    assert events[4:] == [
        StopTriggered(14, 20, 9, 99, 99),
        Trade(15, 4, 20, 4, 9, 99, 2, SELL),
        LevelChanged(16, BUY, 99, 2),
        OrderDone(16, 20, 9, FILLED, D_NONE, 0, 2),
    ]


def test_a_trailing_buy_stop_in_bps_rounds_its_offset_up_and_keeps_its_limit(
    book_class: type[Book],
) -> None:
    # Given a buy stop-limit (limit 104) trailing 100 bps over 101: 101 + ceil(1.01)
    book = traded_at_101(book_class)
    book.process(Place(20, 9, BUY, STOP_LIMIT, 104, 2, trail_bps=100))
    stop = book.get_stop(20)
    assert stop is not None and (stop.stop_price, stop.price) == (103, 104)
    # When a trade prints at 99: the stop comes down to 99 + ceil(0.99) = 100
    assert book.process(limit(21, 7, SELL, 99, 1)) == [
        Accepted(7, 21, 7, False),
        Trade(8, 4, 21, 4, 7, 99, 1, SELL),
        StopMoved(8, 20, 9, 100),
        LevelChanged(9, BUY, 99, 4),
        OrderDone(9, 21, 7, FILLED, D_NONE, 0, 1),
    ]
    # And a trade at 101 fires it at its fixed limit 104
    events = book.process(limit(22, 6, BUY, 102, 1))
    assert events[4:] == [
        StopTriggered(11, 20, 9, 100, 101),
        Trade(12, 1, 20, 1, 9, 101, 2, BUY),
        LevelChanged(13, SELL, 101, 6),
        OrderDone(13, 20, 9, FILLED, D_NONE, 0, 2),
    ]


def test_a_trailing_stop_never_loosens(book_class: type[Book]) -> None:
    # Given at last 101 a sell stop trailing 2 (at 99) and a buy stop trailing 5
    # (at 106)
    book = traded_at_101(book_class)
    book.process(Place(20, 9, SELL, STOP_MARKET, quantity=2, trail_amount=2))
    book.process(Place(21, 9, BUY, STOP_MARKET, quantity=1, trail_amount=5))
    # When trades print at 100, then at 101 again
    book.process(limit(22, 6, BUY, 100, 1))
    down = book.process(limit(23, 7, SELL, 100, 1))
    up = book.process(limit(24, 7, BUY, 101, 1))
    # Then only the buy stop moved (down to 105); nothing moved back
    moves = [e for e in down + up if isinstance(e, StopMoved)]
    assert moves == [StopMoved(9, 21, 9, 105)]
    assert book.get_stop(20).stop_price == 99  # type: ignore[union-attr]
    assert book.get_stop(21).stop_price == 105  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"trail_amount": 2, "trail_bps": 10}, "invalid_trail"),
        ({"trail_amount": 2, "stop_price": 95}, "invalid_trail"),
        ({"trail_amount": 0}, "invalid_trail"),
        ({"trail_amount": -1}, "invalid_trail"),
        ({"trail_bps": 0}, "invalid_trail"),
        ({"trail_bps": 10_000}, "invalid_trail"),
        ({"trail_amount": 101}, "invalid_trail"),  # stop 0: not a price
        ({"trail_amount": 2, "type": OrderType.LIMIT, "price": 100}, "invalid_trail"),
        ({"trail_amount": 2, "type": OrderType.MARKET}, "invalid_trail"),
        ({"stop_price": None}, "invalid_stop_price"),
    ],
)
def test_trail_mistakes_are_rejected(
    book_class: type[Book], changes: dict[str, object], reason: str
) -> None:
    book = traded_at_101(book_class)
    command = Place(20, 9, SELL, STOP_MARKET, quantity=2)._replace(**changes)  # type: ignore[arg-type]
    assert book.process(command) == [Rejected(7, 20, "place", RejectReason(reason))]


def test_a_trailing_stop_needs_a_last_price(book_class: type[Book]) -> None:
    book = standard_book(book_class)
    command = Place(20, 9, SELL, STOP_MARKET, quantity=2, trail_bps=50)
    assert book.process(command) == [
        Rejected(5, 20, "place", RejectReason.NO_REFERENCE_PRICE)
    ]


def test_a_rebuilt_trailing_stop_keeps_its_current_stop_and_trails_on(
    book_class: type[Book],
) -> None:
    # Given a trailing sell stop as the database holds it: trail 3, now at 97
    stop = Place(20, 9, SELL, STOP_MARKET, None, 2, stop_price=97, trail_amount=3)
    book = book_class.from_resting(
        "X", [RestingOrder(1, 1, SELL, 101, 5)], [stop], last_price=100
    )
    assert book.get_stop(20) == stop._replace(time_in_force=TimeInForce.IOC)
    # When a trade prints at 101: it moves to 98
    assert StopMoved(1, 20, 9, 98) in book.process(limit(2, 2, BUY, 101, 1))
    # And a snapshot keeps trail and current stop
    restored = book_class.restore(book.snapshot())
    assert restored.get_stop(20) == book.get_stop(20)
    assert restored.state_hash() == book.state_hash()
    with pytest.raises(ValueError):
        book_class.from_resting("X", [], [stop._replace(stop_price=None)])


def test_a_format_1_snapshot_still_restores(book_class: type[Book]) -> None:
    # Given a snapshot written before GTD, OCO and trailing stops existed
    old = {
        "format": 1,
        "symbol": "OLD",
        "sequence": 3,
        "last_price": 100,
        "bids": [[1, 1, 99, 5, 0, "expire_taker", False]],
        "asks": [[2, 2, 101, 4, 1, "expire_maker", True]],
        "stops": [
            [3, 3, "buy", "stop_limit", 110, 3, "gtc", False, 108, None,
             "expire_taker"],
        ],
    }  # fmt: skip
    # When it is restored, then it is the same book, with a clock at 0
    book = book_class.restore(old)
    assert book.get_order(2) == RestingOrder(
        2, 2, SELL, 101, 4, 1, STP.EXPIRE_MAKER, True
    )
    assert book.get_stop(3) == Place(
        3, 3, BUY, STOP_LIMIT, 110, 3, TimeInForce.GTC, False, 108
    )
    assert book.snapshot()["format"] == 4
    assert book.snapshot()["clock"] == 0
    assert (book.sequence, book.last_trade_price) == (3, 100)


def test_a_rebuilt_pair_with_different_expiries_cancels_the_leg_not_yet_due(
    book_class: type[Book],
) -> None:
    # Given a pair rebuilt with the limit leg due at 50 and the stop leg at 60
    orders = [RestingOrder(10, 9, SELL, 103, 4, expire_at=50, oco_with=11)]
    stops = [
        Place(
            11, 9, SELL, STOP_MARKET, None, 4, GTD, stop_price=97, expire_at=60,
            oco_with=10,
        )
    ]  # fmt: skip
    book = book_class.from_resting("X", orders, stops, sequence=3, clock=20)
    assert book.snapshot()["clock"] == 20
    # When the clock reaches 55, the limit leg expires and takes the stop leg along
    assert book.process(ExpireDue(55)) == [
        OrderDone(3, 10, 9, EXPIRED, D_GTD, 4, 0),
        LevelChanged(4, SELL, 103, 0),
        OrderDone(4, 11, 9, CANCELLED, D_OCO, 4, 0),
    ]
    assert book.open_order_count() == 0
