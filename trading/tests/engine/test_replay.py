"""A long seeded command stream replays identically, also through a snapshot.

The stream comes from the benchmark's generator (120,000 commands, fifty users,
every order type). Its final hash is pinned: the interpreted and the compiled
build must both reach it, which proves they behave the same. A second stream does
the same for GTD orders, OCO pairs and trailing stops.
"""

import json

import pytest

from bench.engine import generate_commands
from trading.engine import Command, Event, OrderBook, OrderDone, ReferenceBook
from trading.engine.snapshot import digest
from trading.tests.engine.helpers import feature_stream

COMMANDS = 120_000
SEED = 7
PINNED_EVENTS = 332_354
PINNED_HASH = "f5ce9d2c6c8ff34c4cd65a8a053ab088cf644e192cec9bcdbfa6b76403890a0d"
#: The hash pinned before format 3 (issue 25): the same book seen as format 2.
FORMAT_2_HASH = "3aef367a36b8e859283d6aa3b44d9aa742ff8ab6570ca6e2ef351fbd19aee22e"


def format_2_digest(book: OrderBook) -> str:
    """The state hash as format 2 gave it: a continuous book without a band
    carries nothing else (nor does a book without DAY orders carry anything of
    format 4), so the streams' earlier pins still hold."""
    snapshot = book.snapshot()
    assert (snapshot["phase"], snapshot["band_bps"], snapshot["markets"]) == (
        "continuous",
        None,
        [],
    )
    for key in ("phase", "band_bps", "reference", "markets"):
        del snapshot[key]
    for key in ("bids", "asks"):  # format 4's day column: no DAY order here
        rows = snapshot[key]
        assert isinstance(rows, list) and not any(row.pop() for row in rows)
    return digest(snapshot | {"format": 2})


@pytest.fixture(scope="module")
def stream() -> list[Command]:
    return generate_commands(COMMANDS, SEED)


@pytest.fixture(scope="module")
def first_run(stream: list[Command]) -> tuple[list[Event], OrderBook]:
    book = OrderBook("REPLAY")
    return book.process_many(stream), book


def test_replaying_twice_gives_identical_events_and_hash(stream, first_run) -> None:
    # Given one full run of the stream
    events, book = first_run
    # When the same stream runs again on a fresh book
    again = OrderBook("REPLAY")
    replayed = again.process_many(stream)
    # Then every event and the final state are identical
    assert replayed == events
    assert again.state_hash() == book.state_hash()
    assert (len(events), book.state_hash()) == (PINNED_EVENTS, PINNED_HASH)
    assert format_2_digest(book) == FORMAT_2_HASH


def test_restoring_a_midpoint_snapshot_continues_identically(stream, first_run):
    # Given the first half of the stream, then a snapshot through JSON
    events, book = first_run
    half = OrderBook("REPLAY")
    head = half.process_many(stream[: COMMANDS // 2])
    restored = OrderBook.restore(json.loads(json.dumps(half.snapshot())))
    assert restored.state_hash() == half.state_hash()
    # When the restored book takes the second half
    tail = restored.process_many(stream[COMMANDS // 2 :])
    # Then head + tail is exactly the uninterrupted run
    assert head + tail == events
    assert restored.state_hash() == book.state_hash()


def test_stream_exercises_every_kind_of_event(first_run) -> None:
    events, book = first_run
    kinds = {type(e).__name__ for e in events}
    assert kinds == {
        "Accepted",
        "Rejected",
        "Trade",
        "OrderDone",
        "LevelChanged",
        "StopTriggered",
        "Amended",
    }
    assert not book.is_crossed()


# A second stream with GTD orders and a clock, OCO pairs and trailing stops
# (the benchmark's stream above has none of them).
FEATURE_COMMANDS = 30_000
FEATURE_SEED = 3
FEATURE_EVENTS = 97_776
FEATURE_HASH = "6a75473e3c1b9fd6d06b7d12c6bba6014253a4cda7e26a9f019ab732360049ac"
FEATURE_FORMAT_2_HASH = (
    "ebfb1e3e6b183986ee7cb07b3245b9cea7158e2a01d0dc51fa61327ac2e9d792"
)


@pytest.fixture(scope="module")
def feature_run() -> tuple[list[Command], list[Event], OrderBook]:
    commands = feature_stream(FEATURE_COMMANDS, FEATURE_SEED)
    book = OrderBook("FEATURES")
    return commands, book.process_many(commands), book


def test_the_feature_stream_replays_identically_through_a_snapshot(
    feature_run,
) -> None:
    # Given the whole stream's events and final hash (pinned: both builds)
    commands, events, book = feature_run
    assert (len(events), book.state_hash()) == (FEATURE_EVENTS, FEATURE_HASH)
    assert format_2_digest(book) == FEATURE_FORMAT_2_HASH
    kinds = {type(e).__name__ for e in events}
    assert {"StopMoved", "StopTriggered", "Amended", "Rejected"} <= kinds
    details = {str(e.detail) for e in events if isinstance(e, OrderDone)}
    assert {"gtd", "oco", "stp", "user"} <= details
    # When it is cut in two with a snapshot through JSON in between
    half = OrderBook("FEATURES")
    head = half.process_many(commands[: FEATURE_COMMANDS // 2])
    restored = OrderBook.restore(json.loads(json.dumps(half.snapshot())))
    tail = restored.process_many(commands[FEATURE_COMMANDS // 2 :])
    # Then it is the same run
    assert head + tail == events
    assert restored.state_hash() == book.state_hash()
    assert not book.is_crossed()


def test_the_reference_book_replays_the_feature_stream_event_for_event(
    feature_run,
) -> None:
    commands, events, _ = feature_run
    prefix = commands[:3_000]
    reference = ReferenceBook("FEATURES")
    fast = OrderBook("FEATURES")
    assert reference.process_many(prefix) == fast.process_many(prefix)
    assert reference.state_hash() == fast.state_hash()
