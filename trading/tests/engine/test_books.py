"""Choosing a book: by name, by ENGINE_BOOK, and one book's snapshot in the other."""

import pytest

from trading.engine import (
    OrderBook,
    Place,
    ReferenceBook,
    Side,
    book_class,
    new_book,
)
from trading.tests.engine.helpers import limit, standard_book

BUY, SELL = Side.BUY, Side.SELL


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
