"""Reads of the calendars app shared by several callers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from calendars.models import InstrumentSession, SessionPhase
from trading.models import Instrument


def session_due_instrument_ids(*, now: datetime) -> list[int]:
    """Instruments the sweeper should wake at `now` (docs/sessions.md): a
    transition or a volatility call's end has come and the session is not
    halted, or a calendar instrument has no schedule position yet (no session,
    or its calendar just changed)."""
    due = InstrumentSession.objects.filter(halted=False).filter(
        Q(due_at__lte=now)
        | Q(call_ends_at__lte=now)
        | Q(due_phase="", instrument__calendar__isnull=False)
    )
    fresh = Instrument.objects.filter(calendar__isnull=False, session__isnull=True)
    ids = set(due.values_list("instrument_id", flat=True))
    ids.update(fresh.values_list("pk", flat=True))
    return sorted(ids)


def session_phase(*, instrument_id: int) -> str:
    """The instrument's session phase, "" without a session (or not started)."""
    phase = (
        InstrumentSession.objects.filter(instrument_id=instrument_id)
        .values_list("phase", flat=True)
        .first()
    )
    return phase or ""


@dataclass(frozen=True, slots=True)
class SessionState:
    """What the market stream, REST and the trade screen show of a session: the
    phase the book is in, and the next transition (None while halted: nothing
    happens until an operator resumes, and without a schedule)."""

    phase: str
    next_phase: str | None
    next_at: datetime | None
    halted: bool


CONTINUOUS = SessionState(SessionPhase.CONTINUOUS.value, None, None, False)
_STATE_FIELDS = ("phase", "due_phase", "due_at", "call_ends_at", "halted")


def session_state(session: InstrumentSession | None) -> SessionState:
    """A session row as shown: a volatility call's next transition is its
    drawn end (back to continuous), else the scheduled one. No row, or one not
    started yet, is continuous trading: the book's phase then (trading/phases.py
    `book_phase`)."""
    if session is None:
        return CONTINUOUS
    phase = session.phase or SessionPhase.CONTINUOUS.value
    if session.halted:
        return SessionState(phase, None, None, True)
    if session.call_ends_at is not None:
        return SessionState(
            phase, SessionPhase.CONTINUOUS.value, session.call_ends_at, False
        )
    if session.due_phase and session.due_at is not None:
        return SessionState(phase, session.due_phase, session.due_at, False)
    return SessionState(phase, None, None, False)


def session_state_get(*, instrument_id: int) -> SessionState:
    """The instrument's session as shown (one indexed read of its row)."""
    session = (
        InstrumentSession.objects.filter(instrument_id=instrument_id)
        .only(*_STATE_FIELDS)
        .first()
    )
    return session_state(session)
