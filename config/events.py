"""Domain events: a service records what happened; subscribers react.

The app that causes an event defines it (a frozen dataclass in `<app>/events.py`)
and calls `record()` inside the transaction that made it true. It never imports
the apps that react. Subscribers are registered in one place,
`config/subscribers.py`, at one of two moments:

- `IN_TRANSACTION`: called by `record()` itself, inside the same transaction, for
  what must commit or roll back with the cause (a stream's persisted user events,
  candles and tickers derived from trades): a crash loses neither.
- `ON_COMMIT`: called after the outermost commit, never after a rollback, for what
  leaves the database (channel-layer broadcasts, emails, metrics). Delivery is at
  most once: what must survive a crash is written by an `IN_TRANSACTION`
  subscriber first (the user stream's `UserEvent` rows are that outbox). One that
  raises is logged and skipped (`robust`): the cause is committed, so its caller
  must not see an error, and the callbacks queued after it (another subscriber,
  the matcher's schedule) still run. What an `IN_TRANSACTION` subscriber leaves
  to send after commit, it records as an event of its own (marketdata.events),
  so every broadcast is a subscription here too.

In the spirit of Zulip's `send_event_on_commit`.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from functools import partial, update_wrapper
from typing import Any

from django.db import transaction


class Moment(Enum):
    IN_TRANSACTION = "in_transaction"
    ON_COMMIT = "on_commit"


IN_TRANSACTION = Moment.IN_TRANSACTION
ON_COMMIT = Moment.ON_COMMIT

Handler = Callable[[Any], None]

# event type -> moment -> handlers, in registration order
_SUBSCRIBERS: dict[type, dict[Moment, list[Handler]]] = {}


def subscribe(event_type: type, handler: Handler, *, moment: Moment) -> None:
    """Register `handler` for `event_type` (exactly that type). Idempotent."""
    handlers = _SUBSCRIBERS.setdefault(event_type, {}).setdefault(moment, [])
    if handler not in handlers:
        handlers.append(handler)


def unsubscribe(event_type: type, handler: Handler, *, moment: Moment) -> None:
    handlers = _SUBSCRIBERS.get(event_type, {}).get(moment, [])
    if handler in handlers:
        handlers.remove(handler)


def subscribers(event_type: type, moment: Moment) -> tuple[Handler, ...]:
    return tuple(_SUBSCRIBERS.get(event_type, {}).get(moment, ()))


def record(event: object, *, using: str | None = None) -> None:
    """Tell the subscribers of `type(event)`: the in-transaction ones now, the
    on-commit ones after the outermost commit (now, in autocommit)."""
    moments = _SUBSCRIBERS.get(type(event))
    if not moments:
        return
    for handler in moments.get(Moment.IN_TRANSACTION, ()):
        handler(event)
    for handler in moments.get(Moment.ON_COMMIT, ()):
        # named after the handler, for Django's log of a robust callback's error
        callback = update_wrapper(partial(handler, event), handler)
        transaction.on_commit(callback, using=using, robust=True)
