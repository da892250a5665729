"""Plain-data form of a book, and its hash.

A snapshot holds only ints, strs, bools, None, lists and dicts, so it survives JSON
unchanged. Orders are rows (lists) rather than dicts: a million resting orders must
snapshot in seconds, not minutes. The row layouts are part of the format:

* ``bids`` / ``asks``: best price first, then time priority, each row
  ``[order_id, owner, price, quantity, filled, stp, post_only, expire_at,
  oco_with, day]``;
* ``stops``: arrival order, each row the ``Place`` fields in declaration order
  ``[order_id, owner, side, type, price, quantity, time_in_force, post_only,
  stop_price, quote_limit, stp, expire_at, trail_amount, trail_bps, oco_with]``
  (a trailing stop's ``stop_price`` is its current stop);
* ``clock``: the last ``ExpireDue`` time;
* ``phase`` ("continuous", "call", "closed"), ``band_bps`` and ``reference`` (the
  volatility band and its fallback reference price, or None);
* ``markets``: market orders queued in a call phase, arrival order, rows like
  ``stops`` plus one column: the lots it filled before a volatility
  interruption queued it (its ``quantity`` and ``quote_limit`` are what is
  left).

Format 3 had no ``day`` column (orders read as not DAY; a DAY stop keeps its
``time_in_force`` "day" in its row from format 4 on).

Format 2 had no phase, band, reference or markets: it restores as a continuous
book without a band.

Format 1 (before GTD, trailing stops and OCO) had the first 7 and 11 columns and
no clock; it still restores, with the clock at 0.
"""

import hashlib
import json
from typing import Any, Final, NamedTuple

from trading.engine.commands import Place, RestingOrder
from trading.engine.types import STP, OrderType, Phase, Side, TimeInForce

FORMAT: Final = 4
READABLE: Final = (1, 2, 3, 4)


class Session(NamedTuple):
    """What format 3 added: the phase, the band, and the queued market orders."""

    phase: Phase = Phase.CONTINUOUS
    band_bps: int | None = None
    reference: int | None = None
    markets: tuple[tuple[Place, int], ...] = ()  # (order, lots filled before)


def order_row(order: RestingOrder) -> list[object]:
    return [
        order.order_id,
        order.owner,
        order.price,
        order.quantity,
        order.filled,
        str(order.stp.value),
        order.post_only,
        order.expire_at,
        order.oco_with,
        order.day,
    ]


def stop_row(stop: Place) -> list[object]:
    return [
        stop.order_id,
        stop.owner,
        str(stop.side.value),
        str(stop.type.value),
        stop.price,
        stop.quantity,
        str(stop.time_in_force.value),
        stop.post_only,
        stop.stop_price,
        stop.quote_limit,
        str(stop.stp.value),
        stop.expire_at,
        stop.trail_amount,
        stop.trail_bps,
        stop.oco_with,
    ]


def encode(
    symbol: str | int,
    sequence: int,
    last_price: int | None,
    bids: list[RestingOrder],
    asks: list[RestingOrder],
    stops: list[Place],
    clock: int = 0,
    session: Session | None = None,
) -> dict[str, object]:
    session = session or Session()
    return {
        "format": FORMAT,
        "clock": clock,
        "phase": str(session.phase.value),
        "band_bps": session.band_bps,
        "reference": session.reference,
        "markets": [[*stop_row(m), filled] for m, filled in session.markets],
        "symbol": symbol,
        "sequence": sequence,
        "last_price": last_price,
        "bids": [order_row(o) for o in bids],
        "asks": [order_row(o) for o in asks],
        "stops": [stop_row(s) for s in stops],
    }


def place_of(row: list[Any]) -> Place:
    """A ``stops`` or ``markets`` row back to its Place (format 1 rows have 11
    columns: the missing ones read as None)."""
    extra = (list(row[11:15]) + [None] * 4)[:4]
    return Place(
        row[0], row[1], Side(row[2]), OrderType(row[3]), row[4], row[5],
        TimeInForce(row[6]), row[7], row[8], row[9], STP(row[10]), extra[0],
        extra[1], extra[2], extra[3],
    )  # fmt: skip


def decode(
    data: dict[str, Any],
) -> tuple[str | int, int, int | None, list[RestingOrder], list[Place], int, Session]:
    """Rows back to records: (symbol, sequence, last_price, orders, stops, clock,
    session). Missing trailing columns (format 1) read as None; a format 1 or 2
    snapshot is a continuous book without a band."""
    if data.get("format") not in READABLE:
        raise ValueError(f"unsupported snapshot format {data.get('format')!r}")
    orders: list[RestingOrder] = []
    for side, key in ((Side.BUY, "bids"), (Side.SELL, "asks")):
        for row in data[key]:
            order_id, owner, price, quantity, filled, stp, post_only = row[:7]
            expire_at, oco_with = (list(row[7:9]) + [None, None])[:2]
            day = bool(row[9]) if len(row) > 9 else False
            orders.append(
                RestingOrder(
                    order_id, owner, side, price, quantity, filled, STP(stp),
                    post_only, expire_at, oco_with, day,
                )
            )  # fmt: skip
    stops = [place_of(row) for row in data["stops"]]
    clock = data.get("clock", 0)
    session = Session(
        Phase(data.get("phase", "continuous")),
        data.get("band_bps"),
        data.get("reference"),
        tuple([(place_of(row), row[15]) for row in data.get("markets", [])]),
    )
    return (
        data["symbol"], data["sequence"], data["last_price"], orders, stops, clock,
        session,
    )  # fmt: skip


def digest(snapshot: dict[str, object]) -> str:
    """SHA-256 over canonical JSON: sorted keys, no spaces, so it is stable across
    processes and machines."""
    text = json.dumps(snapshot, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
