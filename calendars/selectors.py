"""Reads of the calendars app shared by several callers."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from calendars.models import InstrumentSession
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
