"""Domain events the calendars app records (config/events.py); it never imports
the apps that react (marketdata's market stream subscribes in
config/subscribers.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from calendars.selectors import SessionState


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """An instrument's session moved (a scheduled or volatility transition, or
    an operator's halt, extension or resume), recorded in the transaction that
    wrote it. `state` is the session as it now is; `reason` the history row's
    kind (schedule, volatility, halt, extend, resume)."""

    instrument_id: int
    symbol: str
    state: SessionState
    reason: str
    at: datetime
