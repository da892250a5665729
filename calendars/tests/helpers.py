"""Builders for the calendars tests: a Berlin calendar, a calendar instrument, and
a stand-in for the matcher that applies and records due transitions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import time_machine

from calendars.models import Holiday, TradingCalendar
from calendars.services import (
    calendar_save,
    holiday_save,
    instrument_calendar_set,
    session_due_transitions,
    session_transition_record,
)
from trading.models import Instrument
from trading.tests.helpers import make_btc_usd


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def make_berlin(**overrides) -> TradingCalendar:
    """XETR-like, Europe/Berlin, Mon-Fri: pre-open 07:30, opening call 08:50,
    continuous 09:00 (+0..30 s), pre-close 17:20, closing call 17:30, close
    17:35 (+0..30 s); 25 Dec closed, 24 Dec closes at 14:00."""
    fields = {
        "code": "xetr",
        "name": "Xetra-like",
        "time_zone": "Europe/Berlin",
        "pre_open_start": time(7, 30),
        "opening_auction_start": time(8, 50),
        "continuous_start": time(9, 0),
        "opening_random_seconds": 30,
        "pre_close_start": time(17, 20),
        "closing_auction_start": time(17, 30),
        "close": time(17, 35),
        "closing_random_seconds": 30,
        **overrides,
    }
    calendar = calendar_save(calendar=TradingCalendar(**fields), acting_user=None)
    for day, name, early in (
        (date(2026, 12, 25), "Christmas Day", None),
        (date(2026, 12, 24), "Christmas Eve", time(14, 0)),
    ):
        holiday_save(
            holiday=Holiday(calendar=calendar, date=day, name=name, early_close=early),
            acting_user=None,
        )
    return calendar


def make_calendar_instrument(
    calendar: TradingCalendar | None = None, **volatility
) -> Instrument:
    instrument = make_btc_usd()
    settings = {
        "volatility_band_bps": 0,
        "volatility_call_seconds": 120,
        "volatility_random_seconds": 30,
        **volatility,
    }
    return instrument_calendar_set(
        instrument=instrument,
        calendar=calendar or make_berlin(),
        acting_user=None,
        **settings,
    )


def advance(instrument: Instrument, now: datetime) -> list[tuple]:
    """What the matcher will do at `now` (a fresh read of the instrument, as a
    restarted process would): apply every due transition and record it. Returns
    (old, new, due at, uncross, recorded) per transition."""
    done = []
    with time_machine.travel(now, tick=False):
        instrument = Instrument.objects.get(pk=instrument.pk)
        for due in session_due_transitions(instrument=instrument, now=now):
            recorded = session_transition_record(
                instrument=instrument, transition=due, now=now
            )
            done.append(
                (
                    due.old_phase,
                    due.phase,
                    due.at.strftime("%m-%d %H:%M:%S"),
                    due.uncross,
                    recorded,
                )
            )
    return done
