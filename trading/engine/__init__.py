"""Matching engine: a pure, deterministic price-time order book.

No Django, database, clock, randomness or I/O: commands in, events out. The same
source runs interpreted or compiled with mypyc (see docs/engine.md); ``COMPILED``
tells which one was imported.

Two books behind one interface (``Book``): ``OrderBook``, the fast one, and
``ReferenceBook``, the naive one that states the rules plainly. ``book_class()``
picks one by name or from the ``ENGINE_BOOK`` environment variable ("fast", the
default, or "reference"), for tests and debugging.
"""

import os

from trading.engine import book as _book
from trading.engine.book import OrderBook
from trading.engine.commands import (
    Amend,
    Cancel,
    Command,
    ExpireDay,
    ExpireDue,
    Place,
    PlaceOco,
    RestingOrder,
    SetBand,
    SetPhase,
    Uncross,
)
from trading.engine.events import (
    Accepted,
    Amended,
    Event,
    Indicative,
    LevelChanged,
    OrderDone,
    PhaseChanged,
    Rejected,
    StopMoved,
    StopTriggered,
    Trade,
)
from trading.engine.interface import Book
from trading.engine.reference import ReferenceBook
from trading.engine.types import (
    MAX_VALUE,
    STP,
    DoneDetail,
    DoneReason,
    OrderType,
    Phase,
    RejectReason,
    Side,
    TimeInForce,
)

#: True when the mypyc-compiled build was imported, False for plain Python.
COMPILED: bool = not (_book.__file__ or "").endswith(".py")

BOOKS: dict[str, type[Book]] = {"fast": OrderBook, "reference": ReferenceBook}


def book_class(kind: str | None = None) -> type[Book]:
    """The book implementation named ``kind``, else by ``ENGINE_BOOK`` ("fast" when
    unset). Read at each call, so a test or a debugging session can switch."""
    name = kind or os.environ.get("ENGINE_BOOK") or "fast"
    try:
        return BOOKS[name]
    except KeyError:
        raise ValueError(f"unknown book {name!r}: one of {sorted(BOOKS)}") from None


def new_book(
    symbol: str | int = "", sequence: int = 0, kind: str | None = None
) -> Book:
    """An empty book of the chosen implementation (see ``book_class``)."""
    return book_class(kind)(symbol, sequence)


__all__ = [
    "BOOKS",
    "COMPILED",
    "MAX_VALUE",
    "STP",
    "Accepted",
    "Amend",
    "Amended",
    "Book",
    "Cancel",
    "Command",
    "DoneDetail",
    "DoneReason",
    "Event",
    "ExpireDay",
    "ExpireDue",
    "Indicative",
    "LevelChanged",
    "OrderBook",
    "OrderDone",
    "OrderType",
    "Phase",
    "PhaseChanged",
    "Place",
    "PlaceOco",
    "ReferenceBook",
    "RejectReason",
    "Rejected",
    "RestingOrder",
    "SetBand",
    "SetPhase",
    "Side",
    "StopMoved",
    "StopTriggered",
    "TimeInForce",
    "Trade",
    "Uncross",
    "book_class",
    "new_book",
]
