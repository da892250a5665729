"""Demo sessions (idempotent, through the calendars services): the demo shares
RELIANCE-INR and TCS-INR follow an NSE-style equity calendar, so the embedded
mode shows a pre-open call, an opening uncross, continuous trading, a closing
auction and a closed market; the crypto pairs keep trading around the clock.

The calendar (Asia/Kolkata, Monday to Friday): pre-open 09:00, the opening call
09:08, continuous trading 09:15 (opening uncross), pre-close 15:30, the closing
call 15:40, closed 16:00 (closing uncross). NSE ends its pre-open order entry at
a random moment; here the random part is on the calls' ends, up to a minute.
Holidays: the fixed-date ones NSE keeps every year (Republic Day, Independence
Day, Gandhi Jayanti, Christmas) for this year and the next; the moving ones
(Holi, Diwali...) an operator adds in the admin when NSE publishes them.

A volatility band of 5% interrupts continuous trading with a two-minute call
(up to 30 s more, drawn at random).
"""

from __future__ import annotations

from datetime import date, time

from django.utils import timezone

NSE_CODE = "nse-equities"
NSE_CALENDAR = {
    "name": "NSE equities (demo)",
    "time_zone": "Asia/Kolkata",
    "pre_open_start": time(9, 0),
    "opening_auction_start": time(9, 8),
    "continuous_start": time(9, 15),
    "opening_random_seconds": 60,
    "pre_close_start": time(15, 30),
    "closing_auction_start": time(15, 40),
    "close": time(16, 0),
    "closing_random_seconds": 60,
}
NSE_FIXED_HOLIDAYS = (
    (1, 26, "Republic Day"),
    (8, 15, "Independence Day"),
    (10, 2, "Gandhi Jayanti"),
    (12, 25, "Christmas"),
)
NSE_SYMBOLS = ("RELIANCE-INR", "TCS-INR")
VOLATILITY_BAND_BPS = 500
VOLATILITY_CALL_SECONDS = 120
VOLATILITY_RANDOM_SECONDS = 30


def seed(*, out) -> None:
    from calendars.models import Holiday, TradingCalendar
    from calendars.services import calendar_save, holiday_save, instrument_calendar_set
    from trading.models import Instrument

    calendar = TradingCalendar.objects.filter(code=NSE_CODE).first()
    state = "exists"
    if calendar is None:
        calendar = calendar_save(
            calendar=TradingCalendar(code=NSE_CODE, **NSE_CALENDAR), acting_user=None
        )
        state = "created"
    year = timezone.localdate().year
    added = 0
    for each_year in (year, year + 1):
        for month, day, name in NSE_FIXED_HOLIDAYS:
            on = date(each_year, month, day)
            if not Holiday.objects.filter(calendar=calendar, date=on).exists():
                holiday_save(
                    holiday=Holiday(calendar=calendar, date=on, name=name),
                    acting_user=None,
                )
                added += 1
    out(f"  calendar {NSE_CODE} ({state}), {added} holidays added")
    for instrument in Instrument.objects.filter(symbol__in=NSE_SYMBOLS):
        if instrument.calendar_id == calendar.pk:
            continue
        instrument_calendar_set(
            instrument=instrument,
            calendar=calendar,
            volatility_band_bps=VOLATILITY_BAND_BPS,
            volatility_call_seconds=VOLATILITY_CALL_SECONDS,
            volatility_random_seconds=VOLATILITY_RANDOM_SECONDS,
            acting_user=None,
        )
        out(f"  {instrument.symbol} follows {NSE_CODE}")
