"""Every write of the calendars app (docs/sessions.md).

Calendars and holidays: saved through `calendar_save`, `holiday_save` and
`holiday_delete`, checked by the schedule and audited. An instrument's calendar
and volatility settings: `instrument_calendar_set`.

Sessions: the matcher, inside its own transaction, asks
`session_due_transitions(instrument=..., now=...)` for the transitions to apply,
applies each one (an auction's end runs the uncross), and records it with
`session_transition_record(...)`. Both lock the session row, and a scheduled phase
is entered at most once per instrument and trading day (a unique constraint), so a
second caller, or the same one twice, records nothing. Operators halt, extend or
resume a phase (`session_halt`, `session_extend`, `session_resume`), audited.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import AuditCode, User
from accounts.services import RequestMeta, audit_event_record
from calendars.errors import Code
from calendars.events import SessionChanged
from calendars.models import (
    Holiday,
    InstrumentSession,
    SessionPhase,
    SessionTransition,
    TradingCalendar,
)
from calendars.schedule import (
    CalendarSpec,
    Phase,
    ScheduleError,
    Transition,
    following,
    last_transition,
    next_transition,
    spec_check,
)
from calendars.selectors import session_state
from config.domain_errors import ApplicationError, Conflict, NotFound
from config.events import record
from trading.models import Instrument

MAX_EXTENSION_MINUTES = 240
CALENDAR_FIELDS = (
    "code",
    "name",
    "time_zone",
    "weekdays",
    "pre_open_start",
    "opening_auction_start",
    "continuous_start",
    "opening_random_seconds",
    "pre_close_start",
    "closing_auction_start",
    "close",
    "closing_random_seconds",
)
CALL_PHASES = frozenset(
    {
        SessionPhase.OPENING_AUCTION,
        SessionPhase.CLOSING_AUCTION,
        SessionPhase.VOLATILITY_AUCTION,
    }
)


def _invalid(exc: ScheduleError | ValidationError) -> ApplicationError:
    if isinstance(exc, ScheduleError):
        return ApplicationError(
            Code.CALENDAR_INVALID, str(exc), details={exc.field: [exc.message]}
        )
    details = exc.message_dict if hasattr(exc, "error_dict") else {}
    return ApplicationError(
        Code.CALENDAR_INVALID, "; ".join(exc.messages), details=details
    )


def _plain(value) -> object:
    return value.isoformat() if isinstance(value, date | time) else value


def _session_changed(
    *, session: InstrumentSession, instrument: Instrument, reason: str, now: datetime
) -> None:
    """Tell the market stream (after commit) how the session now stands."""
    record(
        SessionChanged(
            instrument_id=instrument.pk,
            symbol=instrument.symbol,
            state=session_state(session),
            reason=reason,
            at=now,
        )
    )


# --- Calendars and holidays -----------------------------------------------------------


@transaction.atomic
def calendar_save(
    *,
    calendar: TradingCalendar,
    acting_user: User | None,
    meta: RequestMeta | None = None,
) -> TradingCalendar:
    """Create or change a calendar (its fields set on the unsaved instance),
    after the schedule checks it with its holidays; audited with old and new."""
    old: dict[str, object] = {}
    if calendar.pk is not None:
        before = TradingCalendar.objects.select_for_update().get(pk=calendar.pk)
        old = {f: _plain(getattr(before, f)) for f in CALENDAR_FIELDS}
    try:
        spec_check(calendar.spec())  # first: it names the rule that fails
        calendar.full_clean()
    except (ScheduleError, ValidationError) as exc:
        raise _invalid(exc) from exc
    calendar.updated_at = timezone.now()
    calendar.save()
    new = {f: _plain(getattr(calendar, f)) for f in CALENDAR_FIELDS}
    audit_event_record(
        code=AuditCode.CALENDAR_SAVED,
        acting_user=acting_user,
        target=calendar,
        meta=meta,
        extra={
            "old": {k: v for k, v in old.items() if new[k] != v},
            "new": {k: v for k, v in new.items() if old.get(k, None) != v},
        },
    )
    return calendar


@transaction.atomic
def holiday_save(
    *,
    holiday: Holiday,
    acting_user: User | None,
    meta: RequestMeta | None = None,
) -> Holiday:
    """Add or change a holiday or half day; its calendar must still schedule."""
    calendar = TradingCalendar.objects.select_for_update().get(pk=holiday.calendar_id)
    holidays = dict(
        calendar.holidays.exclude(pk=holiday.pk).values_list("date", "early_close")
    )
    holidays[holiday.date] = holiday.early_close
    try:
        spec_check(calendar.spec(holidays))
        holiday.full_clean()
    except (ScheduleError, ValidationError) as exc:
        raise _invalid(exc) from exc
    holiday.save()
    audit_event_record(
        code=AuditCode.HOLIDAY_SAVED,
        acting_user=acting_user,
        target=calendar,
        meta=meta,
        extra={
            "date": holiday.date.isoformat(),
            "name": holiday.name,
            "early_close": _plain(holiday.early_close),
        },
    )
    return holiday


@transaction.atomic
def holiday_delete(
    *, holiday: Holiday, acting_user: User | None, meta: RequestMeta | None = None
) -> None:
    calendar = TradingCalendar.objects.select_for_update().get(pk=holiday.calendar_id)
    audit_event_record(
        code=AuditCode.HOLIDAY_REMOVED,
        acting_user=acting_user,
        target=calendar,
        meta=meta,
        extra={"date": holiday.date.isoformat(), "name": holiday.name},
    )
    holiday.delete()


@transaction.atomic
def instrument_calendar_set(
    *,
    instrument: Instrument,
    calendar: TradingCalendar | None,
    volatility_band_bps: int,
    volatility_call_seconds: int,
    volatility_random_seconds: int,
    acting_user: User | None,
    meta: RequestMeta | None = None,
) -> Instrument:
    """Give an instrument a calendar (or none: continuous trading) and its
    volatility settings. A changed calendar starts its session afresh: the next
    `session_due_transitions` enters the new calendar's current phase."""
    instrument = Instrument.objects.select_for_update().get(pk=instrument.pk)
    fields = {
        "calendar_id": calendar.pk if calendar else None,
        "volatility_band_bps": volatility_band_bps,
        "volatility_call_seconds": volatility_call_seconds,
        "volatility_random_seconds": volatility_random_seconds,
    }
    if not 0 <= volatility_band_bps <= 10_000:
        raise ApplicationError(
            Code.CALENDAR_INVALID,
            "volatility_band_bps: between 0 and 10000.",
            details={"volatility_band_bps": [volatility_band_bps]},
        )
    if not 1 <= volatility_call_seconds <= 3600 or not (
        0 <= volatility_random_seconds <= 3600
    ):
        raise ApplicationError(
            Code.CALENDAR_INVALID,
            "volatility_call_seconds: 1 to 3600; random window 0 to 3600.",
            details={"volatility_call_seconds": [volatility_call_seconds]},
        )
    old = {name: getattr(instrument, name) for name in fields}
    changed = {k: v for k, v in fields.items() if old[k] != v}
    if not changed:
        return instrument
    for name, value in changed.items():
        setattr(instrument, name, value)
    instrument.updated_at = timezone.now()
    instrument.save(update_fields=[*changed, "updated_at"])
    if "calendar_id" in changed:
        session = InstrumentSession.objects.filter(instrument=instrument).first()
        if session is not None:
            _session_restart(session=session)
            _session_changed(
                session=session,
                instrument=instrument,
                reason="calendar",
                now=session.updated_at,
            )
    audit_event_record(
        code=AuditCode.INSTRUMENT_UPDATED,
        acting_user=acting_user,
        target=instrument,
        meta=meta,
        extra={"old": {k: old[k] for k in changed}, "new": changed},
    )
    return instrument


def _session_restart(*, session: InstrumentSession) -> None:
    """Forget the schedule position (the phase stays until the next transition,
    which the new calendar decides)."""
    session.due_phase = ""
    session.due_trading_day = None
    session.due_nominal_at = None
    session.due_at = None
    session.updated_at = timezone.now()
    session.save(
        update_fields=[
            "due_phase",
            "due_trading_day",
            "due_nominal_at",
            "due_at",
            "updated_at",
        ]
    )


# --- Sessions -------------------------------------------------------------------------


@dataclass(frozen=True)
class DueTransition:
    """One phase change to apply now. `at` is when it was due (earlier than now
    after a restart or a halt). `uncross` says the phase being left is a call
    whose end runs the uncross. The fields after `uncross` are the session's
    next scheduled transition once this one is recorded (for an auction being
    entered, `next_due_at` includes its random end, drawn here)."""

    kind: str  # SessionTransition.Kind: schedule or volatility
    old_phase: str
    phase: str
    trading_day: date | None
    at: datetime
    uncross: bool
    next_phase: str
    next_trading_day: date | None
    next_nominal_at: datetime | None
    next_due_at: datetime | None


def _draw(window: int) -> timedelta:
    """The random end of a call: 0..window seconds, drawn once and stored."""
    return (
        timedelta(seconds=secrets.randbelow(window + 1))
        if window > 0
        else (timedelta())
    )


def _after(spec: CalendarSpec, entered: Transition) -> tuple:
    """(phase, day, nominal_at, due_at) of the transition after `entered`, the
    auction's random end drawn when `entered` starts one."""
    nxt = following(spec, entered)
    if nxt is None:
        return "", None, None, None
    delay = timedelta()
    if entered.phase == Phase.OPENING_AUCTION:
        delay = _draw(spec.opening_random_seconds)
    elif entered.phase == Phase.CLOSING_AUCTION:
        delay = _draw(spec.closing_random_seconds)
    return nxt.phase.value, nxt.trading_day, nxt.at, nxt.at + delay


def _lock(*, instrument: Instrument, now: datetime) -> InstrumentSession | None:
    """The instrument's session row, locked; created (not started) the first
    time a calendar instrument asks."""
    locked = (
        InstrumentSession.objects.select_for_update()
        .filter(instrument_id=instrument.pk)
        .first()
    )
    if locked is not None or instrument.calendar_id is None:
        return locked
    try:
        with transaction.atomic():
            InstrumentSession.objects.create(
                instrument_id=instrument.pk, created_at=now, updated_at=now
            )
    except IntegrityError:  # another process created it first
        pass
    return InstrumentSession.objects.select_for_update().get(
        instrument_id=instrument.pk
    )


def _start(spec: CalendarSpec, now: datetime) -> Transition | None:
    """Where a session without a schedule position starts: the calendar's
    current phase (entered late), or the next transition."""
    return last_transition(spec, now) or next_transition(spec, now)


def _nothing_due(
    session: InstrumentSession, *, has_calendar: bool, now: datetime
) -> bool:
    """True when the stored state alone shows nothing is due (no calendar or
    holiday needs reading): no volatility call ending, and a scheduled position
    whose time has not come (or, without a calendar, nothing scheduled)."""
    if session.call_ends_at is not None and session.call_ends_at <= now:
        return False
    if session.due_phase:
        return session.due_at is None or session.due_at > now
    return not has_calendar


def session_due_transitions(
    *, instrument: Instrument, now: datetime
) -> list[DueTransition]:
    """The transitions to apply now, in order (empty while halted). The caller
    applies each and records it with `session_transition_record`, in the same
    transaction, which holds the session's row lock meanwhile.

    A session that missed transitions (a restart, a machine down over an
    auction) gets every missed one, late and in order: the auction is entered
    and its uncross still runs, once. An auction entered late draws its random
    end then; when that end lies ahead, the list stops at the auction."""
    with transaction.atomic():
        session = _lock(instrument=instrument, now=now)
        if session is None or session.halted:
            return []
        has_calendar = instrument.calendar_id is not None
        if _nothing_due(session, has_calendar=has_calendar, now=now):
            return []  # the matcher's usual case: one query
            return []
        calendar = instrument.calendar
        spec = calendar.spec() if calendar is not None else None
        phase = session.phase
        day = session.trading_day
        due = (
            session.due_phase,
            session.due_trading_day,
            session.due_nominal_at,
            session.due_at,
        )
        if spec is not None and not due[0]:
            start = _start(spec, now)
            if start is not None:
                due = (start.phase.value, start.trading_day, start.at, start.at)
        call_ends_at = session.call_ends_at
        found: list[DueTransition] = []
        while True:
            due_phase, due_day, due_nominal, due_at = due
            if call_ends_at is not None and call_ends_at <= now:
                if due_at is None or call_ends_at <= due_at:
                    found.append(
                        DueTransition(
                            kind=SessionTransition.Kind.VOLATILITY,
                            old_phase=phase,
                            phase=SessionPhase.CONTINUOUS,
                            trading_day=day,
                            at=call_ends_at,
                            uncross=True,
                            next_phase=due_phase,
                            next_trading_day=due_day,
                            next_nominal_at=due_nominal,
                            next_due_at=due_at,
                        )
                    )
                    phase, call_ends_at = SessionPhase.CONTINUOUS, None
                    continue
            if (
                spec is None
                or due_at is None
                or due_at > now
                or due_nominal is None
                or due_day is None
            ):
                break
            entered = Transition(
                at=due_nominal, trading_day=due_day, phase=Phase(due_phase)
            )
            after = _after(spec, entered)
            found.append(
                DueTransition(
                    kind=SessionTransition.Kind.SCHEDULE,
                    old_phase=phase,
                    phase=due_phase,
                    trading_day=due_day,
                    at=due_at,
                    uncross=phase in CALL_PHASES,
                    next_phase=after[0],
                    next_trading_day=after[1],
                    next_nominal_at=after[2],
                    next_due_at=after[3],
                )
            )
            phase, day, due, call_ends_at = due_phase, due_day, after, None
        return found


def session_transition_record(
    *, instrument: Instrument, transition: DueTransition, now: datetime
) -> bool:
    """Record one transition: the session moves on and a history row is
    written; True means the caller applies it (in the same transaction). False
    when it is not the session's next one any more (recorded by this caller or
    another process: nothing written), or when the database already holds that
    phase for that trading day (the session moves past it without a second row):
    either way the caller does not apply it."""
    with transaction.atomic():
        session = _lock(instrument=instrument, now=now)
        if session is None or session.halted or session.phase != transition.old_phase:
            return False
        if transition.kind == SessionTransition.Kind.VOLATILITY:
            if session.call_ends_at is None:
                return False
        elif session.due_phase and (
            session.due_phase,
            session.due_trading_day,
        ) != (transition.phase, transition.trading_day):
            return False
        recorded = True
        try:
            with transaction.atomic():
                SessionTransition.objects.create(
                    session=session,
                    instrument_id=instrument.pk,
                    trading_day=transition.trading_day,
                    old_phase=transition.old_phase,
                    new_phase=transition.phase,
                    kind=transition.kind,
                    due_at=transition.at,
                    created_at=now,
                )
        except IntegrityError:
            # This phase of this day was entered already (a session row out of
            # step, or a calendar changed mid-day): the session moves past it,
            # so it is not due again, but it is not applied a second time.
            recorded = False
        session.phase = transition.phase
        session.trading_day = transition.trading_day
        session.entered_at = now
        session.due_phase = transition.next_phase
        session.due_trading_day = transition.next_trading_day
        session.due_nominal_at = transition.next_nominal_at
        session.due_at = transition.next_due_at
        session.call_ends_at = None
        session.extended_until = None
        session.updated_at = now
        session.save()
        _session_changed(
            session=session, instrument=instrument, reason=transition.kind, now=now
        )
        return recorded


def session_volatility_call_start(
    *, instrument: Instrument, now: datetime
) -> InstrumentSession | None:
    """Interrupt continuous trading with a short call (the volatility band was
    breached): it ends after the instrument's call length plus a random 0..window
    seconds, drawn once and stored, and never after the next scheduled
    transition. None when the band is off or the instrument is not in
    continuous trading (a call already running, an auction, closed, halted)."""
    with transaction.atomic():
        instrument = Instrument.objects.get(pk=instrument.pk)
        if instrument.volatility_band_bps == 0:
            return None
        session = _lock(instrument=instrument, now=now)
        if session is None:  # no calendar: continuous trading, as before
            session = _continuous_session(instrument=instrument, now=now)
        if session.halted or session.phase != SessionPhase.CONTINUOUS:
            return None
        ends = (
            now
            + timedelta(seconds=instrument.volatility_call_seconds)
            + _draw(instrument.volatility_random_seconds)
        )
        if session.due_at is not None:
            ends = min(ends, session.due_at)
        SessionTransition.objects.create(
            session=session,
            instrument_id=instrument.pk,
            trading_day=session.trading_day,
            old_phase=session.phase,
            new_phase=SessionPhase.VOLATILITY_AUCTION,
            kind=SessionTransition.Kind.VOLATILITY,
            due_at=now,
            created_at=now,
            note=f"call ends {ends.isoformat()}",
        )
        session.phase = SessionPhase.VOLATILITY_AUCTION
        session.entered_at = now
        session.call_ends_at = ends
        session.updated_at = now
        session.save()
        _session_changed(
            session=session,
            instrument=instrument,
            reason=SessionTransition.Kind.VOLATILITY,
            now=now,
        )
        return session


def _continuous_session(*, instrument: Instrument, now: datetime) -> InstrumentSession:
    """A calendar-less instrument's session, made for its first volatility call:
    always continuous, nothing scheduled."""
    try:
        with transaction.atomic():
            InstrumentSession.objects.create(
                instrument_id=instrument.pk,
                phase=SessionPhase.CONTINUOUS,
                entered_at=now,
                created_at=now,
                updated_at=now,
            )
    except IntegrityError:
        pass
    return InstrumentSession.objects.select_for_update().get(
        instrument_id=instrument.pk
    )


# --- Operators ------------------------------------------------------------------------


def _operated(*, instrument: Instrument, reason: str) -> InstrumentSession:
    if not reason.strip():
        raise ApplicationError(
            Code.REASON_REQUIRED, "reason: say why.", details={"reason": [""]}
        )
    session = (
        InstrumentSession.objects.select_for_update()
        .filter(instrument_id=instrument.pk)
        .first()
    )
    if session is None:
        raise NotFound(
            Code.SESSION_NOT_FOUND,
            f"{instrument}: no session (the instrument has no calendar yet).",
        )
    return session


def _operator_record(
    *,
    session: InstrumentSession,
    instrument: Instrument,
    kind: str,
    code: AuditCode,
    acting_user: User | None,
    reason: str,
    meta: RequestMeta | None,
    now: datetime,
    extra: dict,
    note: str | None = None,
) -> None:
    """An operator's act on a session: its history row and its audit event."""
    SessionTransition.objects.create(
        session=session,
        instrument_id=session.instrument_id,
        trading_day=session.trading_day,
        old_phase=session.phase,
        new_phase=session.phase,
        kind=kind,
        acting_user=acting_user,
        note=(note or reason)[:255],
        created_at=now,
    )
    audit_event_record(
        code=code,
        acting_user=acting_user,
        target=instrument,
        meta=meta,
        extra={"phase": session.phase, "reason": reason, **extra},
    )
    _session_changed(session=session, instrument=instrument, reason=kind, now=now)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@transaction.atomic
def session_halt(
    *,
    instrument: Instrument,
    acting_user: User | None,
    reason: str,
    meta: RequestMeta | None = None,
) -> InstrumentSession:
    """Freeze the phase: no transition is applied until `session_resume`."""
    now = timezone.now()
    session = _operated(instrument=instrument, reason=reason)
    if session.halted:
        raise Conflict(Code.SESSION_HALTED, f"{instrument}: already halted.")
    session.halted, session.halted_at, session.updated_at = True, now, now
    session.save(update_fields=["halted", "halted_at", "updated_at"])
    _operator_record(
        session=session,
        instrument=instrument,
        kind=SessionTransition.Kind.HALT,
        code=AuditCode.SESSION_HALTED,
        acting_user=acting_user,
        reason=reason,
        meta=meta,
        now=now,
        extra={"due_at": _iso(session.due_at)},
    )
    return session


@transaction.atomic
def session_resume(
    *,
    instrument: Instrument,
    acting_user: User | None,
    reason: str,
    meta: RequestMeta | None = None,
) -> InstrumentSession:
    """Lift a halt. Transitions that fell due meanwhile are then applied, late
    and in order, by the next `session_due_transitions`."""
    now = timezone.now()
    session = _operated(instrument=instrument, reason=reason)
    if not session.halted:
        raise Conflict(Code.SESSION_NOT_HALTED, f"{instrument}: not halted.")
    halted_at = session.halted_at or now  # a halt has a time (check constraint)
    halted_for = int((now - halted_at).total_seconds())
    session.halted, session.halted_at, session.updated_at = False, None, now
    session.save(update_fields=["halted", "halted_at", "updated_at"])
    _operator_record(
        session=session,
        instrument=instrument,
        kind=SessionTransition.Kind.RESUME,
        code=AuditCode.SESSION_RESUMED,
        acting_user=acting_user,
        reason=reason,
        meta=meta,
        now=now,
        extra={"halted_seconds": halted_for},
    )
    return session


@transaction.atomic
def session_extend(
    *,
    instrument: Instrument,
    minutes: int,
    acting_user: User | None,
    reason: str,
    meta: RequestMeta | None = None,
) -> InstrumentSession:
    """Make the current phase last `minutes` longer (a volatility call's end, or
    the next scheduled transition). Later transitions keep their calendar times;
    any the extension passes are applied, in order, right after it."""
    now = timezone.now()
    session = _operated(instrument=instrument, reason=reason)
    if not 1 <= minutes <= MAX_EXTENSION_MINUTES:
        raise ApplicationError(
            Code.EXTENSION_INVALID,
            f"minutes: 1 to {MAX_EXTENSION_MINUTES}.",
            details={"minutes": [minutes]},
        )
    by = timedelta(minutes=minutes)
    if session.call_ends_at is not None:
        old, field = session.call_ends_at, "call_ends_at"
    elif session.due_at is not None:
        old, field = session.due_at, "due_at"
    else:
        raise Conflict(Code.SESSION_NOTHING_DUE, f"{instrument}: nothing to extend.")
    new = old + by
    setattr(session, field, new)
    session.extended_until, session.updated_at = new, now
    session.save(update_fields=[field, "extended_until", "updated_at"])
    _operator_record(
        session=session,
        instrument=instrument,
        kind=SessionTransition.Kind.EXTEND,
        code=AuditCode.SESSION_EXTENDED,
        acting_user=acting_user,
        reason=reason,
        note=f"+{minutes} min: {reason}",
        meta=meta,
        now=now,
        extra={"minutes": minutes, "old": old.isoformat(), "new": new.isoformat()},
    )
    return session
