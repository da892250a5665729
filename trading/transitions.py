"""An order's states, declared once (config/transitions.py).

Placement inserts an order as `pending` (its history row starts from ""); only the
matcher moves it on, writing the states and their history in bulk, and it checks
every move with `order_transition_check` first. `open` is an order resting in the
book (or a stop waiting for its trigger); a fill before it rests goes straight to
a final state.
"""

from __future__ import annotations

from config.transitions import transition_check
from trading.models import Order

S = Order.Status

ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING: frozenset({S.OPEN, S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED}),
    S.OPEN: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}


def order_transition_check(*, old: str, new: str) -> None:
    """409 `invalid_transition` unless an order may go from `old` to `new`."""
    transition_check(table=ORDER_TRANSITIONS, old=old, new=new)
