"""Matching engine: a pure, deterministic price-time order book.

No Django, database, clock, randomness or I/O: commands in, events out. The same
source runs interpreted or compiled with mypyc (see docs/engine.md); ``COMPILED``
tells which one was imported.
"""

from trading.engine import book as _book
from trading.engine.book import OrderBook
from trading.engine.commands import Amend, Cancel, Command, Place, RestingOrder
from trading.engine.events import (
    Accepted,
    Amended,
    Event,
    LevelChanged,
    OrderDone,
    Rejected,
    StopTriggered,
    Trade,
)
from trading.engine.types import (
    MAX_VALUE,
    STP,
    DoneDetail,
    DoneReason,
    OrderType,
    RejectReason,
    Side,
    TimeInForce,
)

#: True when the mypyc-compiled build was imported, False for plain Python.
COMPILED: bool = not (_book.__file__ or "").endswith(".py")

__all__ = [
    "COMPILED",
    "MAX_VALUE",
    "STP",
    "Accepted",
    "Amend",
    "Amended",
    "Cancel",
    "Command",
    "DoneDetail",
    "DoneReason",
    "Event",
    "LevelChanged",
    "OrderBook",
    "OrderDone",
    "OrderType",
    "Place",
    "RejectReason",
    "Rejected",
    "RestingOrder",
    "Side",
    "StopTriggered",
    "TimeInForce",
    "Trade",
]
