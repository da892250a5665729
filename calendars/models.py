"""Trading calendars, and each calendar instrument's phase (docs/sessions.md).

A `TradingCalendar` says when its instruments trade (local times in its time
zone); `Holiday` closes a day or shortens it. An instrument with a calendar has
one `InstrumentSession`: the phase it is in, the next transition due (with the
random end of an auction drawn once and stored), and the operator's halt or
extension. Every phase change writes a `SessionTransition` (append-only); a
scheduled phase is entered at most once per instrument and trading day, which
the database enforces.
"""

from __future__ import annotations

from datetime import date, time
from typing import ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from calendars.schedule import (
    MAX_RANDOM_SECONDS,
    CalendarSpec,
    Phase,
    ScheduleError,
    time_zone_check,
)
from config.models import StatusHistory
from trading.models import Instrument

WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MON_FRI = 0b0011111
TIMES_ORDER = (
    "Times in order: pre-open < opening auction < continuous < pre-close "
    "< closing auction < close."
)


def validate_time_zone(value: str) -> None:
    try:
        time_zone_check(value)
    except ScheduleError as exc:
        raise ValidationError(exc.message) from exc


def weekdays_from_mask(mask: int) -> frozenset[int]:
    return frozenset(day for day in range(7) if mask >> day & 1)


def weekdays_to_mask(days) -> int:
    return sum(1 << int(day) for day in set(days))


class TradingCalendar(models.Model):
    """When trading happens, as local wall times of `time_zone`. `continuous_start`
    is the opening uncross and `close` the closing uncross; each auction may end
    up to its random window later (drawn once per auction, docs/sessions.md)."""

    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=100)
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        help_text="IANA name, e.g. Europe/Berlin or Asia/Kolkata.",
    )
    weekdays = models.PositiveSmallIntegerField(
        default=MON_FRI, help_text="Trading weekdays: bit 0 Monday .. bit 6 Sunday."
    )
    pre_open_start = models.TimeField(help_text="Orders accepted, nothing matched.")
    opening_auction_start = models.TimeField(help_text="The opening call starts.")
    continuous_start = models.TimeField(
        help_text="Opening uncross: the call ends, continuous trading starts."
    )
    opening_random_seconds = models.PositiveIntegerField(
        default=0, help_text="The opening call ends up to this much later (random)."
    )
    pre_close_start = models.TimeField(help_text="Orders accepted, nothing matched.")
    closing_auction_start = models.TimeField(help_text="The closing call starts.")
    close = models.TimeField(help_text="Closing uncross: the call ends, closed.")
    closing_random_seconds = models.PositiveIntegerField(
        default=0, help_text="The closing call ends up to this much later (random)."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("code",)
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(opening_auction_start__gt=F("pre_open_start"))
                & Q(continuous_start__gt=F("opening_auction_start"))
                & Q(pre_close_start__gt=F("continuous_start"))
                & Q(closing_auction_start__gt=F("pre_close_start"))
                & Q(close__gt=F("closing_auction_start")),
                name="calendar_times_ordered",
                violation_error_message=TIMES_ORDER,
            ),
            models.CheckConstraint(
                condition=Q(weekdays__gte=1) & Q(weekdays__lte=127),
                name="calendar_weekdays_valid",
            ),
            models.CheckConstraint(
                condition=Q(opening_random_seconds__lte=MAX_RANDOM_SECONDS)
                & Q(closing_random_seconds__lte=MAX_RANDOM_SECONDS),
                name="calendar_random_windows_bounded",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.time_zone})"

    @property
    def weekday_names(self) -> str:
        return " ".join(
            name for day, name in enumerate(WEEKDAY_NAMES) if self.weekdays >> day & 1
        )

    def spec(self, holidays: dict[date, time | None] | None = None) -> CalendarSpec:
        """The plain calendar the schedule works on (holidays read from the
        database unless given)."""
        if holidays is None:
            holidays = (
                dict(self.holidays.values_list("date", "early_close"))
                if self.pk
                else {}
            )
        return CalendarSpec(
            time_zone=self.time_zone,
            weekdays=weekdays_from_mask(self.weekdays),
            pre_open_start=self.pre_open_start,
            opening_auction_start=self.opening_auction_start,
            continuous_start=self.continuous_start,
            pre_close_start=self.pre_close_start,
            closing_auction_start=self.closing_auction_start,
            close=self.close,
            opening_random_seconds=self.opening_random_seconds,
            closing_random_seconds=self.closing_random_seconds,
            holidays=holidays,
        )


class Holiday(models.Model):
    """A day the calendar does not trade, or (with `early_close`) a half day."""

    calendar = models.ForeignKey(
        TradingCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100)
    early_close = models.TimeField(
        null=True, blank=True, help_text="Empty: closed all day. Else the close."
    )

    class Meta:
        ordering = ("calendar", "date")
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=("calendar", "date"), name="holiday_once_per_calendar_day"
            )
        ]

    def __str__(self) -> str:
        kind = f"closes {self.early_close:%H:%M}" if self.early_close else "closed"
        return f"{self.date} {self.name} ({kind})"


class SessionPhase(models.TextChoices):
    """The schedule's phases plus the volatility interruption (a short call
    during continuous trading). Blank: a session not started yet."""

    PRE_OPEN = Phase.PRE_OPEN.value, "Pre-open (orders accepted, nothing matched)"
    OPENING_AUCTION = Phase.OPENING_AUCTION.value, "Opening auction (call)"
    CONTINUOUS = Phase.CONTINUOUS.value, "Continuous trading"
    VOLATILITY_AUCTION = "volatility_auction", "Volatility interruption (call)"
    PRE_CLOSE = Phase.PRE_CLOSE.value, "Pre-close (orders accepted, nothing matched)"
    CLOSING_AUCTION = Phase.CLOSING_AUCTION.value, "Closing auction (call)"
    CLOSED = Phase.CLOSED.value, "Closed"


class InstrumentSession(models.Model):
    """Where one calendar instrument is in its trading day. `due_*` is the next
    scheduled transition: `due_nominal_at` the calendar's time, `due_at` when it
    happens (later by the auction's drawn random end, or by an operator's
    extension). A volatility call ends at `call_ends_at` (drawn once)."""

    instrument = models.OneToOneField(
        "trading.Instrument", on_delete=models.CASCADE, related_name="session"
    )
    trading_day = models.DateField(null=True, blank=True)
    phase = models.CharField(max_length=20, choices=SessionPhase.choices, blank=True)
    entered_at = models.DateTimeField(null=True, blank=True)
    due_phase = models.CharField(
        max_length=20, choices=SessionPhase.choices, blank=True
    )
    due_trading_day = models.DateField(null=True, blank=True)
    due_nominal_at = models.DateTimeField(null=True, blank=True)
    due_at = models.DateTimeField(null=True, blank=True)
    call_ends_at = models.DateTimeField(
        null=True, blank=True, help_text="The volatility call's drawn end."
    )
    halted = models.BooleanField(default=False)
    halted_at = models.DateTimeField(null=True, blank=True)
    extended_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ("instrument",)
        permissions = (
            ("operate_instrumentsession", "Can halt, extend or resume a phase"),
        )
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(due_at__isnull=True) | Q(due_at__gte=F("due_nominal_at")),
                name="session_due_not_before_nominal",
            ),
            models.CheckConstraint(
                condition=Q(call_ends_at__isnull=True)
                | Q(phase=SessionPhase.VOLATILITY_AUCTION),
                name="session_call_end_only_in_a_volatility_call",
            ),
            models.CheckConstraint(
                condition=Q(halted=False) | Q(halted_at__isnull=False),
                name="session_halt_has_a_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.trading_day} {self.phase or '-'}"


class SessionTransition(StatusHistory):
    """One change of an instrument's phase, or an operator's halt, extension or
    resume (`kind`), never edited. `due_at` is when it was due and `created_at`
    when it was applied (later after a restart or a halt)."""

    class Kind(models.TextChoices):
        SCHEDULE = "schedule", "Calendar"
        VOLATILITY = "volatility", "Volatility interruption"
        HALT = "halt", "Halted by an operator"
        EXTEND = "extend", "Extended by an operator"
        RESUME = "resume", "Resumed by an operator"

    from_field = "old_phase"
    to_field = "new_phase"

    session = models.ForeignKey(
        InstrumentSession, on_delete=models.PROTECT, related_name="history"
    )
    old_phase = models.CharField(max_length=20, blank=True)
    new_phase = models.CharField(max_length=20)
    acting_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.CharField(max_length=255, blank=True)
    instrument = models.ForeignKey(
        "trading.Instrument", on_delete=models.PROTECT, related_name="+"
    )
    trading_day = models.DateField(null=True, blank=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    due_at = models.DateTimeField(null=True, blank=True)

    class Meta(StatusHistory.Meta):
        constraints: ClassVar = [
            # Exactly once: a scheduled phase is entered once per trading day.
            models.UniqueConstraint(
                fields=("instrument", "trading_day", "new_phase"),
                condition=Q(kind="schedule"),
                name="session_phase_once_per_day",
            )
        ]
        indexes: ClassVar = [models.Index(fields=("session", "created_at"))]

    def __str__(self) -> str:
        return f"{self.trading_day} {self.old_phase or '-'} -> {self.new_phase}"


class CalendarInstrument(Instrument):
    """An instrument seen from here: its calendar and volatility settings, which
    the calendars admin changes through `instrument_calendar_set` (audited)."""

    class Meta:
        proxy = True
        verbose_name = "instrument calendar"
        verbose_name_plural = "instrument calendars"
