"""The calendars back office: calendars with holidays through the services, an
instrument's calendar, read-only sessions with their history, and the operator's
halt, extend and resume actions (audited; support may only look)."""

from __future__ import annotations

import pytest
import time_machine

from accounts.models import AuditCode, AuditEvent
from accounts.roles import Role
from accounts.testing import admin_client_for, make_user
from calendars.models import InstrumentSession, TradingCalendar
from calendars.tests.helpers import (
    advance,
    make_berlin,
    make_calendar_instrument,
    utc,
)
from trading.models import Instrument

pytestmark = pytest.mark.django_db

CALENDAR_FORM = {
    "code": "xnse",
    "name": "NSE-like",
    "time_zone": "Asia/Kolkata",
    "weekdays": ["0", "1", "2", "3", "4"],
    "pre_open_start": "09:00",
    "opening_auction_start": "09:08",
    "continuous_start": "09:15",
    "opening_random_seconds": "0",
    "pre_close_start": "15:30",
    "closing_auction_start": "15:40",
    "close": "16:00",
    "closing_random_seconds": "60",
    "holidays-TOTAL_FORMS": "0",
    "holidays-INITIAL_FORMS": "0",
    "holidays-MIN_NUM_FORMS": "0",
    "holidays-MAX_NUM_FORMS": "1000",
}


@pytest.fixture
def operator():
    return make_user(email="op@example.com", roles=(Role.OPERATOR,), is_staff=True)


@pytest.fixture
def support():
    return make_user(email="help@example.com", roles=(Role.SUPPORT,), is_staff=True)


@pytest.fixture
def session_instrument():
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 9))  # continuous
    return instrument


@pytest.mark.parametrize(
    "url",
    [
        "/admin/calendars/tradingcalendar/",
        "/admin/calendars/tradingcalendar/add/",
        "/admin/calendars/instrumentsession/",
        "/admin/calendars/calendarinstrument/",
        "/admin/calendars/holiday/",
        "/admin/calendars/holiday/add/",
    ],
)
def test_operator_sees_the_calendars_back_office(operator, session_instrument, url):
    assert admin_client_for(operator).get(url).status_code == 200


def test_a_session_page_shows_its_history(operator, session_instrument):
    session = InstrumentSession.objects.get(instrument=session_instrument)
    page = admin_client_for(operator).get(
        f"/admin/calendars/instrumentsession/{session.pk}/change/"
    )
    assert page.status_code == 200
    assert b"continuous" in page.content
    assert b"Calendar" in page.content  # the history row's kind


def test_session_and_instrument_lists_show_the_phase_and_next_transition(
    operator, session_instrument
):
    # Given a Berlin instrument in continuous trading on Tuesday 2 June (CEST):
    # its pre-close is due at 17:20 local, 15:20 UTC
    client = admin_client_for(operator)
    # When the operator opens the sessions and the instrument calendars
    sessions = client.get("/admin/calendars/instrumentsession/").content.decode()
    instruments = client.get("/admin/calendars/calendarinstrument/").content.decode()
    # Then both show the phase and the next transition, as the stream does
    next_due = "Pre-close (orders accepted, nothing matched) at 2026-06-02 15:20:00 UTC"
    assert next_due in sessions
    assert next_due in instruments
    assert "Continuous trading" in instruments
    # and a halted session says nothing comes until it is resumed
    from calendars.services import session_halt

    session_halt(instrument=session_instrument, acting_user=operator, reason="check")
    sessions = client.get("/admin/calendars/instrumentsession/").content.decode()
    assert "none until resumed (halted)" in sessions


def test_an_operator_adds_a_calendar_then_a_holiday_and_removes_it(operator):
    client = admin_client_for(operator)
    response = client.post(
        "/admin/calendars/tradingcalendar/add/", CALENDAR_FORM, follow=True
    )
    assert response.status_code == 200
    calendar = TradingCalendar.objects.get(code="xnse")
    assert (calendar.weekdays, calendar.closing_random_seconds) == (0b11111, 60)
    added = client.post(
        "/admin/calendars/holiday/add/",
        {"calendar": calendar.pk, "date": "2026-11-09", "name": "Diwali"},
        follow=True,
    )
    assert added.status_code == 200
    holiday = calendar.holidays.get()
    assert (str(holiday.date), holiday.name, holiday.early_close) == (
        "2026-11-09",
        "Diwali",
        None,
    )
    page = client.get(f"/admin/calendars/tradingcalendar/{calendar.pk}/change/")
    assert b"Diwali" in page.content  # the read-only inline
    client.post(
        "/admin/calendars/holiday/",
        {"action": "remove_selected", "_selected_action": [holiday.pk]},
    )
    assert not calendar.holidays.exists()
    saved = AuditEvent.objects.filter(acting_user=operator).order_by("id")
    assert [e.code for e in saved] == [
        AuditCode.CALENDAR_SAVED,
        AuditCode.HOLIDAY_SAVED,
        AuditCode.HOLIDAY_REMOVED,
    ]


def test_a_half_day_without_continuous_trading_is_refused_on_the_form(operator):
    calendar = make_berlin()
    response = admin_client_for(operator).post(
        "/admin/calendars/holiday/add/",
        {
            "calendar": calendar.pk,
            "date": "2026-12-31",
            "name": "New Year's Eve",
            "early_close": "09:05",
        },
    )
    assert response.status_code == 200
    assert "pre_close must be later than continuous." in response.content.decode()
    assert calendar.holidays.count() == 2


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        ({"close": "15:35"}, "Times in order: pre-open &lt; opening auction"),
        (
            {"opening_random_seconds": "3600", "pre_close_start": "09:30"},
            "the opening auction&#x27;s random end must end before pre_close.",
        ),
        ({"time_zone": "Asia/Bombay2"}, "unknown time zone"),
    ],
)
def test_a_calendar_that_cannot_be_scheduled_shows_why_and_saves_nothing(
    operator, change, shown
):
    response = admin_client_for(operator).post(
        "/admin/calendars/tradingcalendar/add/", CALENDAR_FORM | change
    )
    assert response.status_code == 200
    assert not TradingCalendar.objects.exists()
    assert shown in response.content.decode()


def test_an_operator_gives_an_instrument_a_calendar(operator):
    instrument = make_calendar_instrument()
    response = admin_client_for(operator).post(
        f"/admin/calendars/calendarinstrument/{instrument.pk}/change/",
        {
            "calendar": "",
            "volatility_band_bps": "300",
            "volatility_call_seconds": "60",
            "volatility_random_seconds": "10",
        },
        follow=True,
    )
    assert response.status_code == 200
    instrument = Instrument.objects.get(pk=instrument.pk)
    assert (instrument.calendar_id, instrument.volatility_band_bps) == (None, 300)
    event = AuditEvent.objects.get(
        code=AuditCode.INSTRUMENT_UPDATED, acting_user=operator
    )
    assert event.extra["new"] == {
        "calendar_id": None,
        "volatility_band_bps": 300,
        "volatility_call_seconds": 60,
        "volatility_random_seconds": 10,
    }


def _act(client, action, pks, **fields):
    return client.post(
        "/admin/calendars/instrumentsession/",
        {"action": action, "_selected_action": pks, **fields},
        follow=True,
    )


def test_an_operator_halts_extends_and_resumes_a_phase(operator, session_instrument):
    session = InstrumentSession.objects.get(instrument=session_instrument)
    client = admin_client_for(operator)
    with time_machine.travel(utc(2026, 6, 2, 10), tick=False):
        halted = _act(client, "halt_selected", [session.pk], reason="news pending")
        assert "1 session(s) halted." in halted.content.decode()
        _act(client, "extend_selected", [session.pk], reason="more time", minutes="30")
        refused = _act(client, "halt_selected", [session.pk], reason="twice")
        assert "already halted" in refused.content.decode()
        _act(client, "resume_selected", [session.pk], reason="news out")
    session.refresh_from_db()
    assert (session.halted, session.due_at) == (False, utc(2026, 6, 2, 15, 50))
    codes = list(
        AuditEvent.objects.filter(acting_user=operator)
        .order_by("id")
        .values_list("code", flat=True)
    )
    assert codes == [
        AuditCode.SESSION_HALTED,
        AuditCode.SESSION_EXTENDED,
        AuditCode.SESSION_RESUMED,
    ]


def test_a_halt_without_a_reason_is_refused(operator, session_instrument):
    session = InstrumentSession.objects.get(instrument=session_instrument)
    response = _act(admin_client_for(operator), "halt_selected", [session.pk])
    assert "reason: say why." in response.content.decode()
    session.refresh_from_db()
    assert session.halted is False


def test_support_sees_sessions_but_cannot_operate_them(support, session_instrument):
    session = InstrumentSession.objects.get(instrument=session_instrument)
    client = admin_client_for(support)
    page = client.get("/admin/calendars/instrumentsession/")
    assert page.status_code == 200
    assert b"halt_selected" not in page.content
    _act(client, "halt_selected", [session.pk], reason="not mine")
    session.refresh_from_db()
    assert session.halted is False
    assert not AuditEvent.objects.filter(code=AuditCode.SESSION_HALTED).exists()
