"""The pure schedule: phases at instants, DST, holidays, half days, properties."""

from __future__ import annotations

import ast
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calendars.schedule import (
    DAY_ORDER,
    CalendarSpec,
    Phase,
    ScheduleError,
    Transition,
    day_transitions,
    following,
    last_transition,
    next_transition,
    phase_at,
    spec_check,
    trading_day,
    transitions_between,
)

MON_FRI = frozenset(range(5))


def berlin(**overrides: object) -> CalendarSpec:
    options: dict[str, Any] = {
        "time_zone": "Europe/Berlin",
        "weekdays": MON_FRI,
        "pre_open_start": time(7, 30),
        "opening_auction_start": time(8, 50),
        "continuous_start": time(9, 0),
        "pre_close_start": time(17, 20),
        "closing_auction_start": time(17, 30),
        "close": time(17, 35),
        "opening_random_seconds": 30,
        "closing_random_seconds": 30,
        "holidays": {date(2026, 12, 25): None, date(2026, 12, 24): time(14, 0)},
    }
    return CalendarSpec(**(options | overrides))


def kolkata() -> CalendarSpec:
    return CalendarSpec(
        time_zone="Asia/Kolkata",
        weekdays=MON_FRI,
        pre_open_start=time(9, 0),
        opening_auction_start=time(9, 8),
        continuous_start=time(9, 15),
        pre_close_start=time(15, 30),
        closing_auction_start=time(15, 40),
        close=time(16, 0),
    )


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def _times(transitions: list[Transition]) -> list[tuple[str, str]]:
    return [(t.phase.value, t.at.strftime("%Y-%m-%d %H:%M")) for t in transitions]


def test_the_module_imports_nothing_of_django():
    source = Path(__file__).parents[1].joinpath("schedule.py").read_text()
    names = {
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert not {n for n in names if n and n.split(".")[0] == "django"}


def test_a_berlin_day_in_winter_and_summer_time():
    winter = day_transitions(berlin(), date(2026, 3, 27))  # Friday, CET (+1)
    assert _times(winter) == [
        ("pre_open", "2026-03-27 06:30"),
        ("opening_auction", "2026-03-27 07:50"),
        ("continuous", "2026-03-27 08:00"),
        ("pre_close", "2026-03-27 16:20"),
        ("closing_auction", "2026-03-27 16:30"),
        ("closed", "2026-03-27 16:35"),
    ]
    summer = day_transitions(berlin(), date(2026, 3, 30))  # Monday, CEST (+2)
    assert _times(summer)[0] == ("pre_open", "2026-03-30 05:30")
    assert _times(summer)[-1] == ("closed", "2026-03-30 15:35")


def test_the_spring_weekend_is_closed_and_monday_opens_an_hour_earlier_in_utc():
    spec = berlin()
    friday_close = utc(2026, 3, 27, 16, 35)
    assert phase_at(spec, friday_close - timedelta(seconds=1)) == Phase.CLOSING_AUCTION
    assert phase_at(spec, friday_close) == Phase.CLOSED
    assert phase_at(spec, utc(2026, 3, 29, 12)) == Phase.CLOSED  # Sunday
    assert next_transition(spec, friday_close) == Transition(
        at=utc(2026, 3, 30, 5, 30), trading_day=date(2026, 3, 30), phase=Phase.PRE_OPEN
    )


def test_the_autumn_change_moves_the_open_an_hour_later_in_utc():
    spec = berlin()
    friday = day_transitions(spec, date(2026, 10, 23))  # CEST
    monday = day_transitions(spec, date(2026, 10, 26))  # CET
    assert friday[2].at == utc(2026, 10, 23, 7, 0)
    assert monday[2].at == utc(2026, 10, 26, 8, 0)
    over_weekend = transitions_between(spec, friday[-1].at, monday[2].at)
    assert _times(over_weekend) == [
        ("pre_open", "2026-10-26 06:30"),
        ("opening_auction", "2026-10-26 07:50"),
        ("continuous", "2026-10-26 08:00"),
    ]


def test_a_skipped_local_time_happens_when_the_gap_ends_and_a_repeated_one_first():
    spec = berlin(
        weekdays=frozenset({6}),
        pre_open_start=time(2, 30),
        opening_auction_start=time(3, 30),
        continuous_start=time(4, 0),
        holidays={},
    )
    # 2026-03-29 02:30 does not exist in Berlin: 03:00 CEST is 01:00 UTC.
    spring = day_transitions(spec, date(2026, 3, 29))
    assert _times(spring)[:2] == [
        ("pre_open", "2026-03-29 01:00"),
        ("opening_auction", "2026-03-29 01:30"),
    ]
    # 2026-10-25 02:30 happens twice: the first (CEST) is 00:30 UTC.
    autumn = day_transitions(spec, date(2026, 10, 25))
    assert _times(autumn)[:2] == [
        ("pre_open", "2026-10-25 00:30"),
        ("opening_auction", "2026-10-25 02:30"),
    ]


def test_kolkata_has_no_daylight_saving():
    spec = kolkata()
    assert _times(day_transitions(spec, date(2026, 3, 30)))[0] == (
        "pre_open",
        "2026-03-30 03:30",
    )
    assert _times(day_transitions(spec, date(2026, 10, 26)))[2] == (
        "continuous",
        "2026-10-26 03:45",
    )
    assert phase_at(spec, utc(2026, 10, 26, 3, 44, 59)) == Phase.OPENING_AUCTION
    assert trading_day(spec, utc(2026, 10, 26, 10, 29)) == date(2026, 10, 26)
    assert trading_day(spec, utc(2026, 10, 26, 10, 30)) is None


def test_holidays_are_closed_and_half_days_close_early_with_the_same_auction():
    spec = berlin()
    assert day_transitions(spec, date(2026, 12, 25)) == []
    half = day_transitions(spec, date(2026, 12, 24))  # Thursday, CET
    assert _times(half)[2:] == [
        ("continuous", "2026-12-24 08:00"),
        ("pre_close", "2026-12-24 12:45"),
        ("closing_auction", "2026-12-24 12:55"),
        ("closed", "2026-12-24 13:00"),
    ]
    # After Thursday's close, Friday is a holiday: Monday 28th opens.
    assert following(spec, half[-1]) == Transition(
        at=utc(2026, 12, 28, 6, 30),
        trading_day=date(2026, 12, 28),
        phase=Phase.PRE_OPEN,
    )


def test_consecutive_days_and_the_trading_day():
    spec = berlin()
    got = transitions_between(spec, utc(2026, 6, 1, 15, 30), utc(2026, 6, 2, 7, 0))
    assert _times(got) == [
        ("closed", "2026-06-01 15:35"),
        ("pre_open", "2026-06-02 05:30"),
        ("opening_auction", "2026-06-02 06:50"),
        ("continuous", "2026-06-02 07:00"),
    ]
    assert trading_day(spec, utc(2026, 6, 2, 5, 29)) is None
    assert trading_day(spec, utc(2026, 6, 2, 5, 30)) == date(2026, 6, 2)
    assert last_transition(spec, utc(2026, 6, 2, 5, 29)) == got[0]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "time_zone", "unknown time zone"),
        ({"weekdays": frozenset()}, "weekdays", "at least one day"),
        ({"continuous_start": time(8, 40)}, "times", "continuous must be later"),
        ({"close": time(17, 30)}, "times", "closed must be later"),
        (
            {"opening_random_seconds": 600, "pre_close_start": time(9, 10)},
            "times",
            "random end must end before pre_close",
        ),
        (
            {"opening_random_seconds": 3601},
            "opening_random_seconds",
            "between 0 and 3600",
        ),
        (
            {"holidays": {date(2026, 12, 24): time(9, 10)}},
            "early_close 2026-12-24",
            "pre_close must be later than continuous",
        ),
        (
            {"holidays": {date(2026, 12, 24): time(9, 15, 20)}},
            "early_close 2026-12-24",
            "random end must end before pre_close",
        ),
    ],
)
def test_a_calendar_that_cannot_be_scheduled_is_refused(overrides, field, message):
    with pytest.raises(ScheduleError) as caught:
        spec_check(berlin(**overrides))
    assert caught.value.field == field
    assert message in caught.value.message


def test_a_good_calendar_passes():
    spec_check(berlin())
    spec_check(kolkata())


# --- properties ------------------------------------------------------------------

INSTANTS = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.just(UTC),
)
SPECS = st.sampled_from([berlin(), kolkata()])


@settings(max_examples=60, deadline=None)
@given(spec=SPECS, instant=INSTANTS)
def test_next_transition_is_strictly_later_and_the_phase_holds_until_it(spec, instant):
    nxt = next_transition(spec, instant)
    assert nxt is not None and nxt.at > instant
    # Nothing happens between the instant and the next transition.
    assert transitions_between(spec, instant, nxt.at - timedelta(microseconds=1)) == []
    assert phase_at(spec, nxt.at) == nxt.phase


@settings(max_examples=40, deadline=None)
@given(spec=SPECS, start=INSTANTS, days=st.integers(1, 20))
def test_phases_follow_the_day_order_and_windows_are_contiguous(spec, start, days):
    got = transitions_between(spec, start, start + timedelta(days=days))
    for before, after in zip(got, got[1:], strict=False):
        assert before.at < after.at
        if before.trading_day == after.trading_day:
            assert DAY_ORDER.index(after.phase) == DAY_ORDER.index(before.phase) + 1
        else:
            assert (before.phase, after.phase) == (Phase.CLOSED, Phase.PRE_OPEN)
        # contiguous: the phase at any instant of the window is the earlier one
        assert phase_at(spec, after.at - timedelta(microseconds=1)) == before.phase
        assert following(spec, before) == after


@settings(max_examples=40, deadline=None)
@given(spec=SPECS, points=st.lists(INSTANTS, min_size=3, max_size=3))
def test_transitions_between_adds_up(spec, points):
    a, b, c = sorted(points)
    assert transitions_between(spec, a, c) == transitions_between(
        spec, a, b
    ) + transitions_between(spec, b, c)
