"""Each calendar instrument's phase: transitions exactly once, with a frozen clock,
across restarts, volatility calls, and the operator's halt, extend and resume.

Berlin in June is UTC+2: pre-open 05:30Z, opening call 06:50Z, continuous 07:00Z
(+ the drawn random end), pre-close 15:20Z, closing call 15:30Z, close 15:35Z."""

from __future__ import annotations

from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditCode, AuditEvent
from calendars.errors import Code
from calendars.models import InstrumentSession, SessionTransition
from calendars.services import (
    session_due_transitions,
    session_extend,
    session_halt,
    session_resume,
    session_transition_record,
    session_volatility_call_start,
)
from calendars.tests.helpers import advance, make_calendar_instrument, utc
from config.domain_errors import ApplicationError, Conflict
from trading.tests.helpers import make_btc_usd

pytestmark = pytest.mark.django_db

DRAW = "calendars.services.secrets.randbelow"


def _history(instrument) -> list[tuple]:
    return list(
        SessionTransition.objects.filter(instrument=instrument)
        .order_by("id")
        .values_list("kind", "old_phase", "new_phase")
    )


def test_an_instrument_without_a_calendar_has_no_session_and_nothing_due():
    instrument = make_btc_usd()
    now = utc(2026, 6, 2, 8)
    assert session_due_transitions(instrument=instrument, now=now) == []
    assert not InstrumentSession.objects.exists()


def test_a_new_session_enters_the_calendars_current_phase_late():
    instrument = make_calendar_instrument()
    assert advance(instrument, utc(2026, 6, 2, 6, 0)) == [
        ("", "pre_open", "06-02 05:30:00", False, True)
    ]
    session = InstrumentSession.objects.get(instrument=instrument)
    assert (session.phase, str(session.trading_day)) == ("pre_open", "2026-06-02")
    assert (session.due_phase, session.due_at) == (
        "opening_auction",
        utc(2026, 6, 2, 6, 50),
    )


def test_a_day_goes_through_every_phase_once_with_the_drawn_auction_ends():
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 5, 30))
    with mock.patch(DRAW, return_value=17) as draw:
        assert advance(instrument, utc(2026, 6, 2, 6, 50)) == [
            ("pre_open", "opening_auction", "06-02 06:50:00", False, True)
        ]
    draw.assert_called_once_with(31)  # 0..30 seconds
    session = InstrumentSession.objects.get(instrument=instrument)
    assert session.due_at == utc(2026, 6, 2, 7, 0, 17)
    assert session.due_nominal_at == utc(2026, 6, 2, 7, 0)
    # The nominal uncross time passes; the drawn end has not come yet.
    assert advance(instrument, utc(2026, 6, 2, 7, 0, 16)) == []
    assert advance(instrument, utc(2026, 6, 2, 7, 0, 17)) == [
        ("opening_auction", "continuous", "06-02 07:00:17", True, True)
    ]
    with mock.patch(DRAW, return_value=3):
        assert advance(instrument, utc(2026, 6, 2, 15, 36)) == [
            ("continuous", "pre_close", "06-02 15:20:00", False, True),
            ("pre_close", "closing_auction", "06-02 15:30:00", False, True),
            ("closing_auction", "closed", "06-02 15:35:03", True, True),
        ]
    session.refresh_from_db()
    assert (session.phase, session.due_phase, session.due_at) == (
        "closed",
        "pre_open",
        utc(2026, 6, 3, 5, 30),
    )
    assert [row[2] for row in _history(instrument)] == [
        "pre_open",
        "opening_auction",
        "continuous",
        "pre_close",
        "closing_auction",
        "closed",
    ]


def test_asking_twice_or_recording_twice_applies_a_transition_once():
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 5, 30))
    now = utc(2026, 6, 2, 6, 50)
    first = session_due_transitions(instrument=instrument, now=now)
    second = session_due_transitions(instrument=instrument, now=now)
    assert [d.phase for d in first] == [d.phase for d in second] == ["opening_auction"]
    assert session_transition_record(
        instrument=instrument, transition=first[0], now=now
    )
    # A second process that read the same list before the first committed.
    assert not session_transition_record(
        instrument=instrument, transition=second[0], now=now
    )
    assert not session_transition_record(
        instrument=instrument, transition=first[0], now=now
    )
    assert _history(instrument) == [
        ("schedule", "", "pre_open"),
        ("schedule", "pre_open", "opening_auction"),
    ]
    assert session_due_transitions(instrument=instrument, now=now) == []


def test_the_database_refuses_a_phase_entered_twice_on_one_day():
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 5, 30))
    now = utc(2026, 6, 2, 6, 50)
    (due,) = session_due_transitions(instrument=instrument, now=now)
    assert session_transition_record(instrument=instrument, transition=due, now=now)
    # A session row put back by hand (a lost write, a bug): the unique constraint
    # on (instrument, trading day, phase) still refuses the second entry.
    InstrumentSession.objects.filter(instrument=instrument).update(
        phase="pre_open", due_phase="opening_auction"
    )
    assert not session_transition_record(instrument=instrument, transition=due, now=now)
    assert SessionTransition.objects.filter(new_phase="opening_auction").count() == 1
    # The session moved past it: the phase is not due again.
    session = InstrumentSession.objects.get(instrument=instrument)
    assert (session.phase, session.due_phase) == ("opening_auction", "continuous")
    assert session_due_transitions(instrument=instrument, now=now) == []


def test_a_restart_in_the_middle_of_the_opening_call_keeps_its_drawn_end():
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 5, 30))
    with mock.patch(DRAW, return_value=29):
        advance(instrument, utc(2026, 6, 2, 6, 50))
    # A fresh process (nothing in memory) with the clock frozen mid-call: the
    # stored end holds, no new draw happens.
    with mock.patch(DRAW, side_effect=AssertionError("drawn again")):
        assert advance(instrument, utc(2026, 6, 2, 7, 0, 28)) == []
        assert advance(instrument, utc(2026, 6, 2, 7, 0, 29)) == [
            ("opening_auction", "continuous", "06-02 07:00:29", True, True)
        ]


def test_a_machine_down_over_the_whole_opening_call_still_uncrosses_once_late():
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 5, 30))
    with mock.patch(DRAW, return_value=12):
        assert advance(instrument, utc(2026, 6, 2, 9, 15)) == [
            ("pre_open", "opening_auction", "06-02 06:50:00", False, True),
            ("opening_auction", "continuous", "06-02 07:00:12", True, True),
        ]
    assert advance(instrument, utc(2026, 6, 2, 9, 15)) == []


def test_back_inside_the_random_window_the_late_call_waits_for_its_draw():
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 5, 30))
    with mock.patch(DRAW, return_value=20):
        assert advance(instrument, utc(2026, 6, 2, 7, 0, 10)) == [
            ("pre_open", "opening_auction", "06-02 06:50:00", False, True)
        ]
    assert advance(instrument, utc(2026, 6, 2, 7, 0, 20)) == [
        ("opening_auction", "continuous", "06-02 07:00:20", True, True)
    ]


def test_down_over_a_weekend_every_missed_transition_comes_in_order():
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 5, 12))  # Friday, continuous
    with mock.patch(DRAW, return_value=0):
        got = advance(instrument, utc(2026, 6, 8, 6))  # Monday, pre-open
    assert got == [
        ("continuous", "pre_close", "06-05 15:20:00", False, True),
        ("pre_close", "closing_auction", "06-05 15:30:00", False, True),
        ("closing_auction", "closed", "06-05 15:35:00", True, True),
        ("closed", "pre_open", "06-08 05:30:00", False, True),
    ]
    session = InstrumentSession.objects.get(instrument=instrument)
    assert str(session.trading_day) == "2026-06-08"


def test_a_half_day_closes_early():
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 12, 24, 10))  # Thursday, CET: continuous
    with mock.patch(DRAW, return_value=5):
        assert advance(instrument, utc(2026, 12, 24, 13, 30)) == [
            ("continuous", "pre_close", "12-24 12:45:00", False, True),
            ("pre_close", "closing_auction", "12-24 12:55:00", False, True),
            ("closing_auction", "closed", "12-24 13:00:05", True, True),
        ]
    session = InstrumentSession.objects.get(instrument=instrument)
    # Friday the 25th is closed: Monday the 28th, 07:30 CET.
    assert session.due_at == utc(2026, 12, 28, 6, 30)


# --- volatility interruptions -------------------------------------------------------


def test_a_volatility_call_ends_after_its_length_and_its_drawn_end():
    instrument = make_calendar_instrument(volatility_band_bps=500)
    advance(instrument, utc(2026, 6, 2, 9))
    now = utc(2026, 6, 2, 9, 30)
    with time_machine.travel(now, tick=False), mock.patch(DRAW, return_value=7):
        session = session_volatility_call_start(instrument=instrument, now=now)
    assert session is not None
    assert session.phase == "volatility_auction"
    assert session.call_ends_at == utc(2026, 6, 2, 9, 32, 7)  # 120 s + 7 s
    assert advance(instrument, utc(2026, 6, 2, 9, 32, 6)) == []
    assert advance(instrument, utc(2026, 6, 2, 9, 32, 7)) == [
        ("volatility_auction", "continuous", "06-02 09:32:07", True, True)
    ]
    assert _history(instrument)[-2:] == [
        ("volatility", "continuous", "volatility_auction"),
        ("volatility", "volatility_auction", "continuous"),
    ]


def test_a_volatility_call_never_runs_past_the_next_scheduled_phase():
    instrument = make_calendar_instrument(volatility_band_bps=500)
    advance(instrument, utc(2026, 6, 2, 15, 19))
    now = utc(2026, 6, 2, 15, 19)
    with mock.patch(DRAW, return_value=30):
        session = session_volatility_call_start(instrument=instrument, now=now)
    assert session.call_ends_at == utc(2026, 6, 2, 15, 20)
    assert advance(instrument, utc(2026, 6, 2, 15, 20)) == [
        ("volatility_auction", "continuous", "06-02 15:20:00", True, True),
        ("continuous", "pre_close", "06-02 15:20:00", False, True),
    ]


def test_no_volatility_call_with_the_band_off_or_outside_continuous_trading():
    off = make_calendar_instrument()
    advance(off, utc(2026, 6, 2, 9))
    now = utc(2026, 6, 2, 9, 30)
    assert session_volatility_call_start(instrument=off, now=now) is None
    instrument = off
    instrument.volatility_band_bps = 100
    instrument.save(update_fields=["volatility_band_bps"])
    advance(instrument, utc(2026, 6, 2, 15, 25))  # pre-close
    assert session_volatility_call_start(instrument=instrument, now=now) is None
    assert not SessionTransition.objects.filter(kind="volatility").exists()


def test_an_instrument_without_a_calendar_can_have_a_volatility_call():
    instrument = make_btc_usd()
    instrument.volatility_band_bps = 200
    instrument.save(update_fields=["volatility_band_bps"])
    now = utc(2026, 6, 2, 23)
    with mock.patch(DRAW, return_value=0):
        session = session_volatility_call_start(instrument=instrument, now=now)
    assert (session.phase, session.call_ends_at) == (
        "volatility_auction",
        utc(2026, 6, 2, 23, 2),
    )
    assert advance(instrument, utc(2026, 6, 2, 23, 2)) == [
        ("volatility_auction", "continuous", "06-02 23:02:00", True, True)
    ]


# --- operators ------------------------------------------------------------------------


def test_a_halt_freezes_the_phase_and_a_resume_applies_what_fell_due_late(
    django_user_model,
):
    from accounts.testing import make_user

    operator = make_user(email="op@example.com")
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 9))
    with time_machine.travel(utc(2026, 6, 2, 15), tick=False):
        session_halt(instrument=instrument, acting_user=operator, reason="news")
    assert advance(instrument, utc(2026, 6, 2, 15, 25)) == []
    with time_machine.travel(utc(2026, 6, 2, 15, 26), tick=False):
        with pytest.raises(Conflict) as caught:
            session_halt(instrument=instrument, acting_user=operator, reason="again")
        assert caught.value.code == Code.SESSION_HALTED
        session_resume(instrument=instrument, acting_user=operator, reason="clear")
    assert advance(instrument, utc(2026, 6, 2, 15, 26)) == [
        ("continuous", "pre_close", "06-02 15:20:00", False, True),
    ]
    halted, resumed = AuditEvent.objects.filter(
        code__in=(AuditCode.SESSION_HALTED, AuditCode.SESSION_RESUMED)
    ).order_by("id")
    assert (halted.code, halted.acting_user, halted.target_id) == (
        AuditCode.SESSION_HALTED,
        operator,
        str(instrument.pk),
    )
    assert halted.extra == {
        "phase": "continuous",
        "reason": "news",
        "due_at": "2026-06-02T15:20:00+00:00",
    }
    assert resumed.extra == {
        "phase": "continuous",
        "reason": "clear",
        "halted_seconds": 1560,
    }
    assert [k for k, _, _ in _history(instrument)] == [
        "schedule",
        "halt",
        "resume",
        "schedule",
    ]


def test_an_extension_moves_the_end_of_the_current_phase():
    from accounts.testing import make_user

    operator = make_user(email="op@example.com")
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 15))
    with time_machine.travel(utc(2026, 6, 2, 15, 10), tick=False):
        session = session_extend(
            instrument=instrument, minutes=15, acting_user=operator, reason="late news"
        )
    assert session.due_at == session.extended_until == utc(2026, 6, 2, 15, 35)
    assert advance(instrument, utc(2026, 6, 2, 15, 34)) == []
    with mock.patch(DRAW, return_value=0):
        # The extension passed the closing call's start: it follows at once.
        assert advance(instrument, utc(2026, 6, 2, 15, 35)) == [
            ("continuous", "pre_close", "06-02 15:35:00", False, True),
            ("pre_close", "closing_auction", "06-02 15:30:00", False, True),
            ("closing_auction", "closed", "06-02 15:35:00", True, True),
        ]
    event = AuditEvent.objects.get(code=AuditCode.SESSION_EXTENDED)
    assert event.extra == {
        "phase": "continuous",
        "reason": "late news",
        "minutes": 15,
        "old": "2026-06-02T15:20:00+00:00",
        "new": "2026-06-02T15:35:00+00:00",
    }


@pytest.mark.parametrize(
    ("minutes", "reason", "code"),
    [(0, "x", Code.EXTENSION_INVALID), (241, "x", Code.EXTENSION_INVALID)]
    + [(5, "  ", Code.REASON_REQUIRED)],
)
def test_an_extension_needs_a_reason_and_sane_minutes(minutes, reason, code):
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 15))
    with pytest.raises(ApplicationError) as caught:
        session_extend(
            instrument=instrument, minutes=minutes, acting_user=None, reason=reason
        )
    assert caught.value.code == code
    assert not AuditEvent.objects.filter(code=AuditCode.SESSION_EXTENDED).exists()


def _selects(run) -> list[str]:
    """The tables each statement of `run()` reads (savepoints left out: a test
    runs inside a transaction, so the service's atomic block makes one)."""
    with CaptureQueriesContext(connection) as captured:
        run()
    return [
        q["sql"].split(" FROM ")[1].split()[0].strip('"')
        for q in captured.captured_queries
        if q["sql"].startswith("SELECT")
    ]


def test_asking_when_nothing_is_due_reads_only_the_session_row():
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 9))  # continuous until 15:20
    instrument = type(instrument).objects.get(pk=instrument.pk)
    noon, pre_close = utc(2026, 6, 2, 12), utc(2026, 6, 2, 15, 20)
    assert _selects(
        lambda: session_due_transitions(instrument=instrument, now=noon)
    ) == ["calendars_instrumentsession"]
    # A transition due reads the calendar and its holidays too.
    assert _selects(
        lambda: session_due_transitions(instrument=instrument, now=pre_close)
    ) == [
        "calendars_instrumentsession",
        "calendars_tradingcalendar",
        "calendars_holiday",
    ]
