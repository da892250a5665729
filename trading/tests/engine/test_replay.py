"""A long seeded command stream replays identically, also through a snapshot.

The stream comes from the benchmark's generator (120,000 commands, fifty users,
every order type). Its final hash is pinned: the interpreted and the compiled
build must both reach it, which proves they behave the same.
"""

import json

import pytest

from bench.engine import generate_commands
from trading.engine import Command, Event, OrderBook

COMMANDS = 120_000
SEED = 7
PINNED_EVENTS = 332_354
PINNED_HASH = "3aef367a36b8e859283d6aa3b44d9aa742ff8ab6570ca6e2ef351fbd19aee22e"


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
