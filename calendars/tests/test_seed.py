"""The demo data puts the demo shares on an NSE-style calendar (calendars/seed.py)."""

import io
from datetime import time

import pytest
import time_machine
from django.core.management import call_command

from accounts.models import AuditCode, AuditEvent
from calendars.models import TradingCalendar
from calendars.seed import NSE_CODE
from calendars.tests.helpers import advance, utc
from trading.models import Instrument

pytestmark = pytest.mark.django_db


def test_seed_demo_puts_the_shares_on_the_nse_calendar_once():
    with time_machine.travel(utc(2026, 12, 7, 12), tick=False):
        first, second = io.StringIO(), io.StringIO()
        call_command("seed_demo", stdout=first)
        call_command("seed_demo", stdout=second)

    calendar = TradingCalendar.objects.get(code=NSE_CODE)
    assert (calendar.time_zone, calendar.continuous_start, calendar.close) == (
        "Asia/Kolkata",
        time(9, 15),
        time(16, 0),
    )
    holidays = sorted(calendar.holidays.values_list("date", "name"))
    assert [(d.isoformat(), name) for d, name in holidays[:4]] == [
        ("2026-01-26", "Republic Day"),
        ("2026-08-15", "Independence Day"),
        ("2026-10-02", "Gandhi Jayanti"),
        ("2026-12-25", "Christmas"),
    ]
    assert len(holidays) == 8  # this year's and next year's
    on_calendar = dict(
        Instrument.objects.values_list("symbol", "calendar__code").order_by("symbol")
    )
    assert on_calendar == {
        "BTC-USD": None,
        "ETH-USD": None,
        "RELIANCE-INR": NSE_CODE,
        "TCS-INR": NSE_CODE,
    }
    reliance = Instrument.objects.get(symbol="RELIANCE-INR")
    assert reliance.volatility_band_bps == 500
    assert "created" in first.getvalue() and "8 holidays added" in first.getvalue()
    assert "0 holidays added" in second.getvalue()
    assert "follows" not in second.getvalue()
    # one audit row per write, none from the second run
    audited = AuditEvent.objects.filter(
        code__in=(AuditCode.CALENDAR_SAVED, AuditCode.HOLIDAY_SAVED)
    )
    assert audited.count() == 1 + 8

    # 2026-12-07 is a Monday: at 10:00 in Kolkata the shares trade continuously
    steps = advance(reliance, utc(2026, 12, 7, 4, 30))
    assert steps[-1][1] == "continuous"
