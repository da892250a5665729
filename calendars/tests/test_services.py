"""Calendar and holiday writes (checked by the schedule, audited), an instrument's
calendar and volatility settings, the volatility band, and two processes racing
for the same transition on PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, time

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import AuditCode, AuditEvent
from calendars.errors import Code
from calendars.models import (
    Holiday,
    InstrumentSession,
    SessionTransition,
    TradingCalendar,
)
from calendars.services import (
    calendar_save,
    holiday_delete,
    holiday_save,
    instrument_calendar_set,
    session_due_transitions,
    session_transition_record,
)
from calendars.tests.helpers import (
    advance,
    make_berlin,
    make_calendar_instrument,
    utc,
)
from calendars.volatility import band_breached
from config.domain_errors import ApplicationError
from trading.models import Instrument


@pytest.mark.django_db
def test_a_saved_calendar_is_audited_with_what_changed():
    calendar = make_berlin()
    created = AuditEvent.objects.get(code=AuditCode.CALENDAR_SAVED)
    assert created.extra["old"] == {}
    assert created.extra["new"]["time_zone"] == "Europe/Berlin"
    assert created.extra["new"]["continuous_start"] == "09:00:00"
    calendar.close = time(17, 40)
    calendar_save(calendar=calendar, acting_user=None)
    changed = AuditEvent.objects.filter(code=AuditCode.CALENDAR_SAVED).latest("id")
    assert changed.extra == {"old": {"close": "17:35:00"}, "new": {"close": "17:40:00"}}
    assert calendar.weekday_names == "Mon Tue Wed Thu Fri"
    assert AuditEvent.objects.filter(code=AuditCode.HOLIDAY_SAVED).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"time_zone": "Europe/Atlantis"}, "time_zone"),
        ({"close": time(17, 0)}, "times"),
        ({"weekdays": 0}, "weekdays"),
    ],
)
def test_a_calendar_that_cannot_be_scheduled_is_refused(overrides, field):
    with pytest.raises(ApplicationError) as caught:
        make_berlin(**overrides)
    assert caught.value.code == Code.CALENDAR_INVALID
    assert field in caught.value.details
    assert not TradingCalendar.objects.exists()


@pytest.mark.django_db
def test_the_database_refuses_times_out_of_order():
    calendar = make_berlin()
    with pytest.raises(IntegrityError), transaction.atomic():
        TradingCalendar.objects.filter(pk=calendar.pk).update(close=time(8, 0))


@pytest.mark.django_db
def test_a_half_day_that_leaves_no_continuous_trading_is_refused():
    calendar = make_berlin()
    with pytest.raises(ApplicationError) as caught:
        holiday_save(
            holiday=Holiday(
                calendar=calendar,
                date=date(2026, 12, 31),
                name="New Year's Eve",
                early_close=time(9, 5),
            ),
            acting_user=None,
        )
    assert caught.value.code == Code.CALENDAR_INVALID
    assert list(caught.value.details) == ["early_close 2026-12-31"]
    assert calendar.holidays.count() == 2


@pytest.mark.django_db
def test_a_removed_holiday_trades_again_and_is_audited():
    calendar = make_berlin()
    holiday_delete(
        holiday=calendar.holidays.get(date=date(2026, 12, 25)), acting_user=None
    )
    assert AuditEvent.objects.get(code=AuditCode.HOLIDAY_REMOVED).extra == {
        "date": "2026-12-25",
        "name": "Christmas Day",
    }
    assert date(2026, 12, 25) not in calendar.spec().holidays


@pytest.mark.django_db
def test_an_instruments_calendar_and_volatility_settings_are_audited():
    instrument = make_calendar_instrument(volatility_band_bps=250)
    event = AuditEvent.objects.get(code=AuditCode.INSTRUMENT_UPDATED)
    assert event.extra == {
        "old": {"calendar_id": None, "volatility_band_bps": 0},
        "new": {"calendar_id": instrument.calendar_id, "volatility_band_bps": 250},
    }
    with pytest.raises(ApplicationError):
        instrument_calendar_set(
            instrument=instrument,
            calendar=None,
            volatility_band_bps=10_001,
            volatility_call_seconds=60,
            volatility_random_seconds=0,
            acting_user=None,
        )
    assert Instrument.objects.get(pk=instrument.pk).volatility_band_bps == 250


@pytest.mark.django_db
def test_a_new_calendar_restarts_the_session_from_its_current_phase():
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 9))  # Berlin: continuous
    kolkata = calendar_save(
        calendar=TradingCalendar(
            code="xnse",
            name="NSE-like",
            time_zone="Asia/Kolkata",
            pre_open_start=time(9, 0),
            opening_auction_start=time(9, 8),
            continuous_start=time(9, 15),
            pre_close_start=time(15, 30),
            closing_auction_start=time(15, 40),
            close=time(16, 0),
        ),
        acting_user=None,
    )
    instrument_calendar_set(
        instrument=instrument,
        calendar=kolkata,
        volatility_band_bps=0,
        volatility_call_seconds=120,
        volatility_random_seconds=30,
        acting_user=None,
    )
    # 11:00 UTC is 16:30 in Kolkata: closed since 10:30 UTC.
    assert advance(instrument, utc(2026, 6, 2, 11)) == [
        ("continuous", "closed", "06-02 10:30:00", False, True)
    ]
    session = InstrumentSession.objects.get(instrument=instrument)
    assert session.due_at == utc(2026, 6, 3, 3, 30)


@pytest.mark.parametrize(
    ("reference", "price", "band", "breached"),
    [
        (10_000, 10_100, 100, False),  # exactly 1 %: inside
        (10_000, 10_101, 100, True),
        (10_000, 9_899, 100, True),
        (10_000, 20_000, 0, False),  # band off
        (None, 20_000, 100, False),  # no last price yet
    ],
)
def test_the_volatility_band(reference, price, band, breached):
    assert (
        band_breached(reference_ticks=reference, price_ticks=price, band_bps=band)
        is breached
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_processes_racing_for_a_transition_record_it_once():
    instrument = make_calendar_instrument()
    advance(instrument, utc(2026, 6, 2, 5, 30))
    now = utc(2026, 6, 2, 6, 50)
    barrier = threading.Barrier(4)

    def work(_):
        try:
            barrier.wait(timeout=30)
            with transaction.atomic():
                fresh = Instrument.objects.get(pk=instrument.pk)
                return [
                    session_transition_record(instrument=fresh, transition=due, now=now)
                    for due in session_due_transitions(instrument=fresh, now=now)
                ]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(4)))
    assert sorted(results) == [[], [], [], [True]]
    assert SessionTransition.objects.filter(new_phase="opening_auction").count() == 1


@pytest.mark.django_db
def test_the_sweeper_wakes_instruments_with_a_transition_due():
    from calendars.selectors import session_due_instrument_ids
    from calendars.services import session_halt

    instrument = make_calendar_instrument()
    # A calendar instrument with no session yet is due at once.
    assert session_due_instrument_ids(now=utc(2026, 6, 2, 9)) == [instrument.pk]
    advance(instrument, utc(2026, 6, 2, 9))  # continuous; pre-close at 15:20
    assert session_due_instrument_ids(now=utc(2026, 6, 2, 15, 19, 59)) == []
    assert session_due_instrument_ids(now=utc(2026, 6, 2, 15, 20)) == [instrument.pk]
    session_halt(instrument=instrument, acting_user=None, reason="quiet")
    assert session_due_instrument_ids(now=utc(2026, 6, 2, 15, 20)) == []
