"""Tests' view of the domain events: what a service recorded, in order."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from config import events


@contextmanager
def recorded(*event_types: type) -> Iterator[list[object]]:
    """Collect every event of these types recorded inside the block (as an
    in-transaction subscriber would see them)."""
    seen: list[object] = []
    for event_type in event_types:
        events.subscribe(event_type, seen.append, moment=events.IN_TRANSACTION)
    try:
        yield seen
    finally:
        for event_type in event_types:
            events.unsubscribe(event_type, seen.append, moment=events.IN_TRANSACTION)
