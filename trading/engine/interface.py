"""What every order book offers, whichever implementation is behind it.

Two books implement it, as exchange-core ships a naive and a direct
``IOrderBook``: ``OrderBook`` (``book.py``, fast) and ``ReferenceBook``
(``reference.py``, naive and readable). Same commands in, same events out, same
snapshot and state hash; ``trading.engine.new_book`` and ``book_class`` choose.
"""

from collections.abc import Iterable
from typing import Protocol

from trading.engine.commands import Command, Place, RestingOrder
from trading.engine.events import Event
from trading.engine.types import Phase, Side


class Book(Protocol):
    symbol: str | int

    def __init__(
        self,
        symbol: str | int = "",
        sequence: int = 0,
        last_price: int | None = None,
    ) -> None: ...

    @classmethod
    def from_resting(
        cls,
        symbol: str | int,
        orders: Iterable[RestingOrder],
        stops: Iterable[Place] = (),
        sequence: int = 0,
        last_price: int | None = None,
        clock: int = 0,
    ) -> "Book": ...

    @classmethod
    def restore(cls, snapshot: dict[str, object]) -> "Book": ...

    def snapshot(self) -> dict[str, object]: ...

    def state_hash(self) -> str: ...

    @property
    def sequence(self) -> int: ...

    @property
    def last_trade_price(self) -> int | None: ...

    def best_bid(self) -> int | None: ...

    def best_ask(self) -> int | None: ...

    def is_crossed(self) -> bool: ...

    def depth(
        self, levels: int = 10
    ) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]: ...

    def get_order(self, order_id: int) -> RestingOrder | None: ...

    def get_stop(self, order_id: int) -> Place | None: ...

    def resting_orders(self, side: Side) -> list[RestingOrder]: ...

    def stop_orders(self) -> list[Place]: ...

    def open_order_count(self) -> int: ...

    def market_orders(self) -> list[Place]: ...

    @property
    def phase(self) -> Phase: ...

    def indicative(self) -> tuple[int | None, int, int, Side | None]: ...

    def process(self, command: Command) -> list[Event]: ...

    def process_many(self, commands: Iterable[Command]) -> list[Event]: ...
