"""The matcher's hook into trading sessions (docs/sessions.md, docs/trading.md).

`trading` must not import `calendars` (config/tests/test_app_dependencies.py):
the calendars app registers its session functions here from its AppConfig's
`ready()`, and the matcher calls them through `phase_hooks()`. With nothing
registered every instrument trades continuously, as before.

Session phases are plain strings here (the calendars app's `SessionPhase`
values); `book_phase` maps each to the engine's `Phase`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trading.engine import Phase

# Session phases in which the book is in a call: orders collect, nothing matches.
CALL_SESSION_PHASES = frozenset(
    {
        "pre_open",
        "opening_auction",
        "pre_close",
        "closing_auction",
        "volatility_auction",
    }
)
CLOSED_SESSION_PHASE = "closed"


def book_phase(session_phase: str) -> Phase:
    """The engine phase of a session phase: a call for pre-open, pre-close and
    every auction, closed for closed, continuous otherwise (also for a session
    not started yet, blank)."""
    if session_phase in CALL_SESSION_PHASES:
        return Phase.CALL
    if session_phase == CLOSED_SESSION_PHASE:
        return Phase.CLOSED
    return Phase.CONTINUOUS


@dataclass(frozen=True)
class PhaseHooks:
    """What the calendars app lends the matcher. `due_transitions` and
    `transition_record` are `session_due_transitions` and
    `session_transition_record` (a transition has `phase`, `old_phase`,
    `uncross`, `at`); `current_phase` the session's phase ("" without one);
    `volatility_call_start` starts a volatility call (None when it does not);
    `due_instrument_ids` the instruments the sweeper must wake."""

    due_transitions: Callable[..., Sequence[Any]]
    transition_record: Callable[..., bool]
    current_phase: Callable[..., str]
    volatility_call_start: Callable[..., object]
    due_instrument_ids: Callable[..., list[int]]


_registered: list[PhaseHooks] = []


def phase_hooks_register(hooks: PhaseHooks) -> None:
    """Called once, by the calendars app's `ready()`; a second call replaces
    the first."""
    _registered[:] = [hooks]


def phase_hooks() -> PhaseHooks | None:
    return _registered[0] if _registered else None


def phase_follows_sessions(instrument) -> bool:
    """Whether the matcher asks the sessions about this instrument: it has a
    calendar or a volatility band, and a hook is registered."""
    return bool(_registered) and (
        instrument.calendar_id is not None or instrument.volatility_band_bps > 0
    )


def sessions_due_instrument_ids(*, now: datetime) -> list[int]:
    """For the sweeper: instruments whose session has a transition due."""
    hooks = phase_hooks()
    return [] if hooks is None else hooks.due_instrument_ids(now=now)


def instrument_session_phase(instrument) -> str:
    """The instrument's session phase now ("" when it trades continuously, with
    no session): for callers outside the matcher that must not send what the
    phase refuses (the demo market maker)."""
    hooks = phase_hooks()
    if hooks is None or not phase_follows_sessions(instrument):
        return ""
    return hooks.current_phase(instrument_id=instrument.pk)
