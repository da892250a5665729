"""What marketdata's in-transaction subscribers leave to publish after commit
(config/events.py): the broadcasts are subscribers of these, wired in
config/subscribers.py like every other reaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from marketdata.models import UserEvent


@dataclass(frozen=True, slots=True)
class MarketFrameReady:
    """A matching run's market messages (depth, trades, ticker, candles) as one
    frame for the instrument's group."""

    group: str
    frame: dict


@dataclass(frozen=True, slots=True)
class MarketControlReady:
    """An unsequenced market message (`body`, JSON text) for the instrument's
    group: state that replaces the previous one (a call's indicative uncross),
    sent to every watcher outside the batches."""

    group: str
    body: str


@dataclass(frozen=True, slots=True)
class UserEventsSaved:
    """User stream events written (their rows are the stream's outbox: a
    client that missed the broadcast replays them by id)."""

    rows: Sequence[UserEvent]
