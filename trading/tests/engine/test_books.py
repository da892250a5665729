"""Choosing a book: by name, by ENGINE_BOOK, and one book's snapshot in the other
(GTD orders, OCO pairs and trailing stops included)."""

import pytest

from trading.engine import (
    Cancel,
    Command,
    ExpireDue,
    OrderBook,
    OrderType,
    Place,
    PlaceOco,
    ReferenceBook,
    Side,
    TimeInForce,
    book_class,
    new_book,
)
from trading.tests.engine.helpers import limit, standard_book

BUY, SELL = Side.BUY, Side.SELL
GTD = TimeInForce.GTD


def test_book_class_by_name_and_by_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ENGINE_BOOK", raising=False)
    assert book_class() is OrderBook
    assert book_class("reference") is ReferenceBook
    monkeypatch.setenv("ENGINE_BOOK", "reference")
    assert book_class() is ReferenceBook
    assert book_class("fast") is OrderBook  # a name wins over the environment
    assert type(new_book("X", sequence=7)) is ReferenceBook
    assert new_book("X", sequence=7).sequence == 7
    with pytest.raises(ValueError, match="unknown book 'naive'"):
        book_class("naive")


def test_a_snapshot_of_one_book_restores_into_the_other() -> None:
    # Given a busy fast book and a reference book restored from its snapshot
    fast = standard_book(OrderBook)
    fast.process_many(
        [limit(6, 6, BUY, 101, 7), Place(7, 7, SELL, price=99, quantity=2)]
    )
    reference = ReferenceBook.restore(fast.snapshot())
    assert reference.state_hash() == fast.state_hash()
    # When both take the same commands
    follow_up = [limit(8, 8, SELL, 100, 9), limit(9, 9, BUY, 102, 12)]
    # Then they say the same and stay the same
    assert reference.process_many(follow_up) == fast.process_many(follow_up)
    assert reference.state_hash() == fast.state_hash()
    assert OrderBook.restore(reference.snapshot()).state_hash() == fast.state_hash()


def test_gtd_oco_and_trailing_state_crosses_between_the_books() -> None:
    # Given a fast book with a GTD order, an OCO pair, a trailing stop and a clock
    fast = standard_book(OrderBook)
    fast.process_many(
        [
            ExpireDue(10),
            limit(6, 6, BUY, 101, 1),
            Place(7, 7, BUY, price=97, quantity=2, time_in_force=GTD, expire_at=40),
            PlaceOco(
                Place(8, 8, SELL, price=104, quantity=3),
                Place(9, 8, SELL, OrderType.STOP_LIMIT, 95, 3, trail_bps=150),
            ),
            Place(10, 9, BUY, OrderType.STOP_MARKET, quantity=1, trail_amount=2),
        ]
    )
    # When the reference book is restored from its snapshot
    reference = ReferenceBook.restore(fast.snapshot())
    assert reference.state_hash() == fast.state_hash()
    assert reference.get_order(8) == fast.get_order(8)
    assert reference.get_stop(9) == fast.get_stop(9)
    # Then both go on alike: trails move, the pair resolves, the clock expires
    follow_up: list[Command] = [
        limit(11, 11, BUY, 102, 9),
        limit(12, 12, SELL, 99, 7),
        ExpireDue(40),
        Cancel(8),
    ]
    events = fast.process_many(follow_up)
    assert reference.process_many(follow_up) == events
    assert reference.state_hash() == fast.state_hash()
    assert {type(e).__name__ for e in events} >= {"StopMoved", "StopTriggered"}
