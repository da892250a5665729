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

_MOVES = {
    S.PENDING: (S.OPEN, S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED),
    S.OPEN: (S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED),
    S.PARTIALLY_FILLED: (S.FILLED, S.CANCELLED, S.EXPIRED),
    S.FILLED: (),
    S.CANCELLED: (),
    S.REJECTED: (),
    S.EXPIRED: (),
}
# Plain strings: the matcher compares the statuses it reads from rows.
ORDER_TRANSITIONS: dict[str, frozenset[str]] = {
    str(old): frozenset(map(str, new)) for old, new in _MOVES.items()
}


def order_transition_check(*, old: str, new: str) -> None:
    """409 `invalid_transition` unless an order may go from `old` to `new`. The
    matcher calls it on every state it writes: an allowed move costs one lookup."""
    if new not in ORDER_TRANSITIONS.get(old, ()):
        transition_check(table=ORDER_TRANSITIONS, old=old, new=new)
