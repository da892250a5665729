"""Snapshots, hashes, rebuilds from resting orders, depth and lookups."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trading.engine import (
    STP,
    Book,
    OrderBook,
    OrderType,
    Place,
    RestingOrder,
    Side,
)
from trading.tests.engine.helpers import limit, standard_book, trades

BUY, SELL = Side.BUY, Side.SELL
REPO_ROOT = Path(__file__).resolve().parents[3]


def busy_book(book_class: type[Book] = OrderBook) -> Book:
    book = standard_book(book_class)
    book.process_many(
        [
            limit(6, 6, BUY, 99, 2),
            Place(7, 7, BUY, OrderType.STOP_LIMIT, 110, 3, stop_price=108),
            Place(8, 8, SELL, OrderType.STOP_MARKET, None, 4, stop_price=90),
            limit(9, 9, BUY, 101, 3),
        ]
    )
    return book


def test_snapshot_is_plain_json_and_restores_the_same_book(
    book_class: type[Book],
) -> None:
    # Given a book with resting orders, stops, fills and a last price
    book = busy_book(book_class)
    # When it is snapshotted through JSON and restored
    text = json.dumps(book.snapshot())
    restored = book_class.restore(json.loads(text))
    # Then the copy is the same book
    assert restored.snapshot() == book.snapshot()
    assert restored.state_hash() == book.state_hash()
    assert restored.sequence == book.sequence
    assert restored.last_trade_price == 101
    assert restored.depth(5) == book.depth(5)
    # And both go on identically
    follow_up = [limit(20, 20, BUY, 102, 7), Place(21, 21, SELL, quantity=1, price=95)]
    assert restored.process_many(follow_up) == book.process_many(follow_up)
    assert restored.state_hash() == book.state_hash()


def test_snapshot_layout(book_class: type[Book]) -> None:
    # Given a small book
    book = busy_book(book_class)
    # Then the snapshot is exactly this
    assert book.snapshot() == {
        "format": 4,
        "clock": 0,
        "phase": "continuous",
        "band_bps": None,
        "reference": None,
        "markets": [],
        "symbol": "TEST",
        "sequence": 8,
        "last_price": 101,
        "bids": [
            [4, 4, 99, 5, 0, "expire_taker", False, None, None, False],
            [6, 6, 99, 2, 0, "expire_taker", False, None, None, False],
            [5, 5, 98, 5, 0, "expire_taker", False, None, None, False],
        ],
        "asks": [
            [1, 1, 101, 2, 3, "expire_taker", False, None, None, False],
            [2, 2, 101, 5, 0, "expire_taker", False, None, None, False],
            [3, 3, 102, 5, 0, "expire_taker", False, None, None, False],
        ],
        "stops": [
            [
                7,
                7,
                "buy",
                "stop_limit",
                110,
                3,
                "gtc",
                False,
                108,
                None,
                "expire_taker",
                None,
                None,
                None,
                None,
            ],
            [
                8,
                8,
                "sell",
                "stop_market",
                None,
                4,
                "ioc",
                False,
                90,
                None,
                "expire_taker",
                None,
                None,
                None,
                None,
            ],
        ],
    }


def test_state_hash_is_the_same_in_another_process_and_in_either_book(
    book_class: type[Book],
) -> None:
    # Given the hash of a book in this process (fast or reference)
    here = busy_book(book_class).state_hash()
    # When another interpreter builds the same book with the fast implementation
    code = (
        "from trading.tests.engine.test_state import busy_book; "
        "print(busy_book().state_hash())"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "123", "PYTHONPATH": str(REPO_ROOT)},
        check=True,
    )
    # Then it gets the same hash
    assert result.stdout.strip() == here


def test_state_hash_changes_with_any_order(book_class: type[Book]) -> None:
    book = busy_book(book_class)
    before = book.state_hash()
    book.process(limit(30, 1, BUY, 50, 1))
    assert book.state_hash() != before


def test_from_resting_rebuilds_in_time_priority(book_class: type[Book]) -> None:
    # Given open orders as the adapter reads them, oldest first
    orders = [
        RestingOrder(1, 1, BUY, 99, 5),
        RestingOrder(2, 2, SELL, 101, 4, filled=1, stp=STP.EXPIRE_MAKER),
        RestingOrder(3, 3, BUY, 99, 2),
    ]
    stops = [Place(4, 4, BUY, OrderType.STOP_MARKET, None, 1, stop_price=120)]
    # When the book is rebuilt
    book = book_class.from_resting("X", orders, stops, sequence=42, last_price=100)
    # Then it has the orders, their order, the stops, and no events were counted
    assert book.sequence == 42
    assert book.depth(5) == ([(99, 7)], [(101, 4)])
    assert book.get_order(2) == RestingOrder(2, 2, SELL, 101, 4, 1, STP.EXPIRE_MAKER)
    assert book.get_stop(4) is not None
    assert not book.is_crossed()
    assert trades(book.process(limit(9, 9, SELL, 99, 6))) == [
        (1, 9, 99, 5),
        (3, 9, 99, 1),
    ]


def test_from_resting_flags_a_crossed_book_and_bad_rows(book_class: type[Book]) -> None:
    crossed = book_class.from_resting(
        "X", [RestingOrder(1, 1, BUY, 101, 1), RestingOrder(2, 2, SELL, 100, 1)]
    )
    assert crossed.is_crossed()
    with pytest.raises(ValueError):
        book_class.from_resting(
            "X", [RestingOrder(1, 1, BUY, 101, 1), RestingOrder(1, 2, BUY, 100, 1)]
        )
    with pytest.raises(ValueError):
        book_class.from_resting("X", [RestingOrder(1, 1, BUY, 101, 0)])


def test_depth_and_best_prices(book_class: type[Book]) -> None:
    book = standard_book(book_class)
    assert book.best_bid() == 99
    assert book.best_ask() == 101
    assert book.depth(1) == ([(99, 5)], [(101, 10)])
    assert book.depth(0) == ([], [])
    assert book_class("E").depth(3) == ([], [])
    assert book_class("E").best_bid() is None
