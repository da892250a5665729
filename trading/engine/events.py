"""Events: everything the engine says, in the order it happened.

``seq`` is the book's sequence number *after* the event. Only events that change
the public book or the tape consume a number (``Trade`` and ``LevelChanged``), so the
market-data stream is gap-free; every other event carries the current number
unchanged. See docs/engine.md for the full contract.

Events are small classes with ``__slots__`` and ``Final`` attributes instead of
frozen dataclasses: a frozen dataclass sets each field through
``object.__setattr__``, several times slower, and events are the engine's hottest
allocation. Compiled with mypyc (the accelerated build) they are read-only at run
time; interpreted, ``Final`` is enforced by the type checker. Equality, hashing,
``repr`` and ``as_dict`` come from the ``Event`` base. ``acyclic`` tells mypyc
that an event can never be part of a reference cycle, so the compiled build does
not track events in the cyclic garbage collector (they are the bulk of what the
engine allocates).
"""

from typing import ClassVar, Final

from trading.engine.compat import mypyc_attr
from trading.engine.types import DoneDetail, DoneReason, Phase, RejectReason, Side


@mypyc_attr(acyclic=True)
class Event:
    """Base of all events: value semantics over the names listed in ``fields``."""

    __slots__ = ()
    kind: ClassVar[str] = "event"
    fields: ClassVar[tuple[str, ...]] = ()

    def values(self) -> tuple[object, ...]:
        return tuple([getattr(self, name) for name in self.fields])

    def as_dict(self) -> dict[str, object]:
        """Plain JSON-ready form, tagged with ``kind`` (enums are str subclasses)."""
        data: dict[str, object] = {"kind": self.kind}
        for name in self.fields:
            data[name] = getattr(self, name)
        return data

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, Event)
            and self.values() == other.values()
        )

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return hash((self.kind, self.values()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.fields)
        return f"{type(self).__name__}({inner})"


@mypyc_attr(acyclic=True)
class Accepted(Event):
    """A place command passed validation. ``resting``: the order is still open
    after the command (on the book or in the stop book)."""

    __slots__ = ("order_id", "owner", "resting", "seq")
    kind = "accepted"
    fields = ("seq", "order_id", "owner", "resting")

    def __init__(self, seq: int, order_id: int, owner: int, resting: bool) -> None:
        self.seq: Final = seq
        self.order_id: Final = order_id
        self.owner: Final = owner
        self.resting: Final = resting


@mypyc_attr(acyclic=True)
class Rejected(Event):
    """A command changed nothing. ``command`` is "place", "cancel" or "amend"."""

    __slots__ = ("command", "order_id", "reason", "seq")
    kind = "rejected"
    fields = ("seq", "order_id", "command", "reason")

    def __init__(
        self, seq: int, order_id: object, command: str, reason: RejectReason
    ) -> None:
        self.seq: Final = seq
        self.order_id: Final = order_id
        self.command: Final = command
        self.reason: Final = reason


@mypyc_attr(acyclic=True)
class Trade(Event):
    """A fill, at the maker's resting price; or, with ``auction`` True, an
    uncross fill at the auction price, where the sell order stands in the maker
    fields and the buy order in the taker fields (``taker_side`` BUY): an auction
    trade has neither maker nor taker."""

    __slots__ = (
        "auction",
        "maker_order_id",
        "maker_owner",
        "price",
        "quantity",
        "seq",
        "taker_order_id",
        "taker_owner",
        "taker_side",
    )
    kind = "trade"
    fields = (
        "seq",
        "maker_order_id",
        "taker_order_id",
        "maker_owner",
        "taker_owner",
        "price",
        "quantity",
        "taker_side",
        "auction",
    )

    def __init__(
        self,
        seq: int,
        maker_order_id: int,
        taker_order_id: int,
        maker_owner: int,
        taker_owner: int,
        price: int,
        quantity: int,
        taker_side: Side,
        auction: bool = False,
    ) -> None:
        self.seq: Final = seq
        self.maker_order_id: Final = maker_order_id
        self.taker_order_id: Final = taker_order_id
        self.maker_owner: Final = maker_owner
        self.taker_owner: Final = taker_owner
        self.price: Final = price
        self.quantity: Final = quantity
        self.taker_side: Final = taker_side
        self.auction: Final = auction


@mypyc_attr(acyclic=True)
class OrderDone(Event):
    """An accepted order closed for good. For a market buy bounded only by quote,
    ``remaining_quantity`` is 0."""

    __slots__ = (
        "detail",
        "filled_quantity",
        "order_id",
        "owner",
        "reason",
        "remaining_quantity",
        "seq",
    )
    kind = "order_done"
    fields = (
        "seq",
        "order_id",
        "owner",
        "reason",
        "detail",
        "remaining_quantity",
        "filled_quantity",
    )

    def __init__(
        self,
        seq: int,
        order_id: int,
        owner: int,
        reason: DoneReason,
        detail: DoneDetail,
        remaining_quantity: int,
        filled_quantity: int,
    ) -> None:
        self.seq: Final = seq
        self.order_id: Final = order_id
        self.owner: Final = owner
        self.reason: Final = reason
        self.detail: Final = detail
        self.remaining_quantity: Final = remaining_quantity
        self.filled_quantity: Final = filled_quantity


@mypyc_attr(acyclic=True)
class LevelChanged(Event):
    """The total open quantity at one price changed; 0 means the level is gone."""

    __slots__ = ("price", "quantity", "seq", "side")
    kind = "level_changed"
    fields = ("seq", "side", "price", "quantity")

    def __init__(self, seq: int, side: Side, price: int, quantity: int) -> None:
        self.seq: Final = seq
        self.side: Final = side
        self.price: Final = price
        self.quantity: Final = quantity


@mypyc_attr(acyclic=True)
class StopTriggered(Event):
    """A stop left the stop book; its limit or market order follows at once."""

    __slots__ = ("last_price", "order_id", "owner", "seq", "stop_price")
    kind = "stop_triggered"
    fields = ("seq", "order_id", "owner", "stop_price", "last_price")

    def __init__(
        self, seq: int, order_id: int, owner: int, stop_price: int, last_price: int
    ) -> None:
        self.seq: Final = seq
        self.order_id: Final = order_id
        self.owner: Final = owner
        self.stop_price: Final = stop_price
        self.last_price: Final = last_price


@mypyc_attr(acyclic=True)
class Amended(Event):
    """An amend took effect. ``quantity`` is the new remaining open quantity;
    ``priority_kept`` False means the order went to the back of its (new) level."""

    __slots__ = ("order_id", "owner", "price", "priority_kept", "quantity", "seq")
    kind = "amended"
    fields = ("seq", "order_id", "owner", "price", "quantity", "priority_kept")

    def __init__(
        self,
        seq: int,
        order_id: int,
        owner: int,
        price: int,
        quantity: int,
        priority_kept: bool,
    ) -> None:
        self.seq: Final = seq
        self.order_id: Final = order_id
        self.owner: Final = owner
        self.price: Final = price
        self.quantity: Final = quantity
        self.priority_kept: Final = priority_kept


@mypyc_attr(acyclic=True)
class StopMoved(Event):
    """A trailing stop's stop price followed the last price (consumes no number)."""

    __slots__ = ("order_id", "owner", "seq", "stop_price")
    kind = "stop_moved"
    fields = ("seq", "order_id", "owner", "stop_price")

    def __init__(self, seq: int, order_id: int, owner: int, stop_price: int) -> None:
        self.seq: Final = seq
        self.order_id: Final = order_id
        self.owner: Final = owner
        self.stop_price: Final = stop_price


@mypyc_attr(acyclic=True)
class Indicative(Event):
    """In a call phase, the uncross as it would be now (consumes no number):
    ``price`` None and ``volume`` 0 when nothing would trade; ``surplus`` is
    the lots left unexecuted at that price on ``surplus_side`` (None if 0)."""

    __slots__ = ("price", "seq", "surplus", "surplus_side", "volume")
    kind = "indicative"
    fields = ("seq", "price", "volume", "surplus", "surplus_side")

    def __init__(
        self,
        seq: int,
        price: int | None,
        volume: int,
        surplus: int,
        surplus_side: Side | None,
    ) -> None:
        self.seq: Final = seq
        self.price: Final = price
        self.volume: Final = volume
        self.surplus: Final = surplus
        self.surplus_side: Final = surplus_side


@mypyc_attr(acyclic=True)
class PhaseChanged(Event):
    """The book entered ``phase``; ``reason`` is "command" (SetPhase), "uncross"
    or "volatility" (a fill would have printed outside the band)."""

    __slots__ = ("phase", "reason", "seq")
    kind = "phase_changed"
    fields = ("seq", "phase", "reason")

    def __init__(self, seq: int, phase: Phase, reason: str) -> None:
        self.seq: Final = seq
        self.phase: Final = phase
        self.reason: Final = reason
