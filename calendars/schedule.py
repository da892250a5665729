"""When an instrument trades: a calendar's phases at any instant (docs/sessions.md).

Pure: no Django, no clock, no randomness. It takes a plain `CalendarSpec` (the
models build one with `TradingCalendar.spec()`) and aware datetimes, and answers in
UTC. A trading day has six transitions, each the start of a phase, in this order:

    pre_open -> opening_auction -> continuous -> pre_close -> closing_auction -> closed

`continuous` starts at the opening uncross and `closed` at the closing uncross:
the nominal times here; the random end of an auction is drawn by the sessions
service, which stores it. Weekends (days outside `weekdays`) and holidays have no
transitions; a half day closes at its early close, its pre-close and closing
auction moved with it (same lengths).

Local times become instants with the calendar's time zone (zoneinfo). A local time
that does not exist (the hour skipped when clocks go forward) happens at the end
of that gap, the first instant that exists after it; a local time that happens
twice (clocks go back) happens at its first occurrence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# How far ahead `next_transition` looks for a trading day before it gives up
# (a calendar whose every day is a holiday has no next transition).
LOOKAHEAD_DAYS = 400
MAX_RANDOM_SECONDS = 3600


class Phase(StrEnum):
    PRE_OPEN = "pre_open"
    OPENING_AUCTION = "opening_auction"
    CONTINUOUS = "continuous"
    PRE_CLOSE = "pre_close"
    CLOSING_AUCTION = "closing_auction"
    CLOSED = "closed"


DAY_ORDER: tuple[Phase, ...] = tuple(Phase)
# The phases whose end runs an uncross (a call auction's end).
AUCTIONS = frozenset({Phase.OPENING_AUCTION, Phase.CLOSING_AUCTION})


class ScheduleError(ValueError):
    """A calendar that cannot be scheduled; `field` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class CalendarSpec:
    """A calendar in plain values. `weekdays` holds Monday=0 .. Sunday=6;
    `holidays` maps a local date to None (closed all day) or its early close."""

    time_zone: str
    weekdays: frozenset[int]
    pre_open_start: time
    opening_auction_start: time
    continuous_start: time
    pre_close_start: time
    closing_auction_start: time
    close: time
    opening_random_seconds: int = 0
    closing_random_seconds: int = 0
    holidays: Mapping[date, time | None] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True, order=True)
class Transition:
    """The start of `phase` on `trading_day`, at the UTC instant `at`."""

    at: datetime
    trading_day: date
    phase: Phase


def time_zone_check(name: str) -> None:
    """Raise ScheduleError unless `name` is an IANA time zone zoneinfo knows."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ScheduleError("time_zone", f"unknown time zone {name!r}.") from exc


def _seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _from_seconds(s: int) -> time:
    return time(s // 3600, s % 3600 // 60, s % 60)


def _day_times(spec: CalendarSpec, early_close: time | None) -> tuple[time, ...]:
    """The six local start times of a day; a half day moves its pre-close and
    closing auction so that they keep their lengths and end at the early close."""
    times = (
        spec.pre_open_start,
        spec.opening_auction_start,
        spec.continuous_start,
        spec.pre_close_start,
        spec.closing_auction_start,
        spec.close,
    )
    if early_close is None:
        return times
    shift = _seconds(spec.close) - _seconds(early_close)
    pre_close = _seconds(spec.pre_close_start) - shift
    auction = _seconds(spec.closing_auction_start) - shift
    if pre_close < 0:
        raise ScheduleError("early_close", "too early for this calendar's close.")
    return (*times[:3], _from_seconds(pre_close), _from_seconds(auction), early_close)


def _times_check(times: tuple[time, ...], spec: CalendarSpec, where: str) -> None:
    names = [phase.value for phase in DAY_ORDER]
    for i in range(1, len(times)):
        a, b, ta, tb = names[i - 1], names[i], times[i - 1], times[i]
        if not ta < tb:
            raise ScheduleError(where, f"{b} must be later than {a}.")
    seconds = [_seconds(t) for t in times]
    if seconds[2] + spec.opening_random_seconds >= seconds[3]:
        raise ScheduleError(
            where, "the opening auction's random end must end before pre_close."
        )
    if seconds[5] + spec.closing_random_seconds >= 24 * 3600:
        raise ScheduleError(
            where, "the closing auction's random end must end before midnight."
        )


def spec_check(spec: CalendarSpec) -> None:
    """Raise ScheduleError for a calendar that cannot be scheduled: an unknown time
    zone, no weekday, phases out of order, a random window that reaches the next
    phase, or a half day that leaves no continuous trading."""
    time_zone_check(spec.time_zone)
    if not spec.weekdays or not spec.weekdays <= set(range(7)):
        raise ScheduleError("weekdays", "pick at least one day, Monday=0..Sunday=6.")
    for name in ("opening_random_seconds", "closing_random_seconds"):
        if not 0 <= getattr(spec, name) <= MAX_RANDOM_SECONDS:
            raise ScheduleError(name, f"between 0 and {MAX_RANDOM_SECONDS} seconds.")
    _times_check(_day_times(spec, None), spec, "times")
    for day, early_close in spec.holidays.items():
        if early_close is not None:
            _times_check(_day_times(spec, early_close), spec, f"early_close {day}")


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time (gaps move to their end, repeated
    times take their first occurrence)."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # In a gap: fold=1 maps it before the change and fold=0 after it; the
    # change itself lies between, found to the second.
    low = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    high = first
    offset = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) // 2
        if mid.astimezone(zone).utcoffset() == offset:
            high = mid
        else:
            low = mid
    return high


def is_trading_day(spec: CalendarSpec, day: date) -> bool:
    if day.weekday() not in spec.weekdays:
        return False
    return not (day in spec.holidays and spec.holidays[day] is None)


def day_transitions(spec: CalendarSpec, day: date) -> list[Transition]:
    """The six transitions of `day` in order (none on a weekend or holiday)."""
    if not is_trading_day(spec, day):
        return []
    zone = spec.zone
    times = _day_times(spec, spec.holidays.get(day))
    return [
        Transition(at=_instant(day, t, zone), trading_day=day, phase=phase)
        for t, phase in zip(times, DAY_ORDER, strict=True)
    ]


def _local_day(spec: CalendarSpec, instant: datetime) -> date:
    return instant.astimezone(spec.zone).date()


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("schedule: instants must be timezone-aware.")
    return instant.astimezone(UTC)


def next_trading_day(spec: CalendarSpec, after: date) -> date | None:
    """The first trading day strictly after `after`, within LOOKAHEAD_DAYS."""
    for offset in range(1, LOOKAHEAD_DAYS + 1):
        day = after + timedelta(days=offset)
        if is_trading_day(spec, day):
            return day
    return None


def next_transition(spec: CalendarSpec, instant: datetime) -> Transition | None:
    """The first transition strictly after `instant`."""
    instant = _aware(instant)
    # A session may start the local day before (a time zone far east of UTC
    # puts a morning pre-open on the previous UTC day): start one day back.
    day = _local_day(spec, instant) - timedelta(days=1)
    for _ in range(LOOKAHEAD_DAYS + 2):
        for transition in day_transitions(spec, day):
            if transition.at > instant:
                return transition
        day += timedelta(days=1)
    return None


def last_transition(spec: CalendarSpec, instant: datetime) -> Transition | None:
    """The latest transition at or before `instant` (None if there was none in
    the LOOKAHEAD_DAYS before)."""
    instant = _aware(instant)
    day = _local_day(spec, instant) + timedelta(days=1)
    for _ in range(LOOKAHEAD_DAYS + 2):
        for transition in reversed(day_transitions(spec, day)):
            if transition.at <= instant:
                return transition
        day -= timedelta(days=1)
    return None


def phase_at(spec: CalendarSpec, instant: datetime) -> Phase:
    """The phase the calendar is in at `instant` (nominal times); `closed` on
    weekends, holidays, and outside the trading hours."""
    last = last_transition(spec, instant)
    return Phase.CLOSED if last is None else last.phase


def trading_day(spec: CalendarSpec, instant: datetime) -> date | None:
    """The trading day whose session (pre-open to close) holds `instant`."""
    last = last_transition(spec, instant)
    if last is None or last.phase == Phase.CLOSED:
        return None
    return last.trading_day


def transitions_between(
    spec: CalendarSpec, start: datetime, end: datetime
) -> list[Transition]:
    """Every transition with start < at <= end, in order."""
    start, end = _aware(start), _aware(end)
    found: list[Transition] = []
    if end <= start:
        return found
    day = _local_day(spec, start) - timedelta(days=1)
    last_day = _local_day(spec, end) + timedelta(days=1)
    while day <= last_day:
        found.extend(t for t in day_transitions(spec, day) if start < t.at <= end)
        day += timedelta(days=1)
    return found


def following(spec: CalendarSpec, transition: Transition) -> Transition | None:
    """The scheduled transition after `transition` (the next phase of its day,
    or the next trading day's pre-open after `closed`)."""
    day = transition.trading_day
    today = day_transitions(spec, day)
    index = DAY_ORDER.index(transition.phase)
    if today and index + 1 < len(today):
        return today[index + 1]
    nxt = next_trading_day(spec, day)
    return None if nxt is None else day_transitions(spec, nxt)[0]
