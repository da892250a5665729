"""Back office for trading calendars (docs/sessions.md).

Calendars and their holidays are saved through `calendar_save`, `holiday_save` and
`holiday_delete` (checked by the schedule, audited); an instrument's calendar and
volatility settings through `instrument_calendar_set`. Sessions are read-only,
with their history; an operator halts, extends or resumes a phase with the
actions, which need a reason (and minutes, to extend) typed beside them.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Count
from django.shortcuts import redirect

from accounts.admin import ReadOnlyAdminMixin
from accounts.services import RequestMeta
from calendars.models import (
    WEEKDAY_NAMES,
    CalendarInstrument,
    Holiday,
    InstrumentSession,
    SessionPhase,
    SessionTransition,
    TradingCalendar,
    weekdays_from_mask,
    weekdays_to_mask,
)
from calendars.schedule import ScheduleError, spec_check
from calendars.selectors import session_state
from calendars.services import (
    CALENDAR_FIELDS,
    MAX_EXTENSION_MINUTES,
    calendar_save,
    holiday_delete,
    holiday_save,
    instrument_calendar_set,
    session_extend,
    session_halt,
    session_resume,
)
from config.domain_errors import ApplicationError

OPERATE = "calendars.operate_instrumentsession"


class TradingCalendarForm(forms.ModelForm):
    """Weekdays as checkboxes; the whole calendar checked by `calendar_save`."""

    weekdays = forms.TypedMultipleChoiceField(
        choices=list(enumerate(WEEKDAY_NAMES)),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        help_text="The days it trades (holidays aside).",
    )

    class Meta:
        model = TradingCalendar
        fields = CALENDAR_FIELDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is not None:
            self.initial["weekdays"] = sorted(
                weekdays_from_mask(self.instance.weekdays)
            )

    def clean_weekdays(self) -> int:
        return weekdays_to_mask(self.cleaned_data["weekdays"])

    def _post_clean(self) -> None:
        """The model's own checks, then the schedule's (with the stored
        holidays), so a refusal shows on the form; `calendar_save` checks again."""
        super()._post_clean()  # type: ignore[misc]  # a Django hook the stubs lack
        if self.errors:
            return
        try:
            spec_check(self.instance.spec())
        except ScheduleError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)


class HolidayInline(ReadOnlyAdminMixin, admin.TabularInline):
    """The calendar's holidays, to read; they are added, changed and removed in
    the holidays admin (through `holiday_save` and `holiday_delete`)."""

    model = Holiday
    fields = ("date", "name", "early_close")
    readonly_fields = fields
    ordering = ("date",)
    extra = 0
    can_delete = False


class HolidayForm(forms.ModelForm):
    class Meta:
        model = Holiday
        fields = ("calendar", "date", "name", "early_close")

    def clean(self):
        """The calendar must still schedule with this day (a half day that
        leaves no continuous trading is refused here, on the form)."""
        data = super().clean()
        calendar = data.get("calendar") or self.instance.calendar
        day = data.get("date") or self.instance.date
        if calendar is None or day is None:
            return data
        holidays = dict(
            calendar.holidays.exclude(pk=self.instance.pk).values_list(
                "date", "early_close"
            )
        )
        holidays[day] = data.get("early_close")
        try:
            spec_check(calendar.spec(holidays))
        except ScheduleError as exc:
            self.add_error("early_close", exc.message)
        return data


@admin.register(Holiday)
class HolidayAdmin(admin.ModelAdmin):
    """A closed day or a half day; saved through `holiday_save`, which checks
    the calendar still schedules, and removed with an action (audited)."""

    form = HolidayForm
    list_display = ("date", "name", "early_close", "calendar")
    list_filter = ("calendar",)
    list_select_related = ("calendar",)
    fields = ("calendar", "date", "name", "early_close")
    ordering = ("-date",)
    actions = ("remove_selected",)

    def get_readonly_fields(self, request, obj=None):
        return ("calendar",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        return False

    def has_remove_permission(self, request):
        return request.user.has_perm("calendars.delete_holiday")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:  # refused by the schedule: nothing saved
            messages.error(request, exc.message)
            return redirect(request.path)

    def save_model(self, request, obj, form, change):
        holiday_save(
            holiday=obj,
            acting_user=request.user,
            meta=RequestMeta.from_request(request),
        )

    @admin.action(description="Remove selected holidays", permissions=["remove"])
    def remove_selected(self, request, queryset):
        meta = RequestMeta.from_request(request)
        count = 0
        for holiday in queryset.order_by("pk"):
            holiday_delete(holiday=holiday, acting_user=request.user, meta=meta)
            count += 1
        messages.success(request, f"{count} holiday(s) removed.")


@admin.register(TradingCalendar)
class TradingCalendarAdmin(admin.ModelAdmin):
    form = TradingCalendarForm
    inlines = (HolidayInline,)
    list_display = (
        "code",
        "name",
        "time_zone",
        "weekday_names",
        "pre_open_start",
        "continuous_start",
        "close",
        "instrument_count",
    )
    search_fields = ("code", "name")

    def get_queryset(self, request):
        return (
            super().get_queryset(request).annotate(instruments_n=Count("instruments"))
        )

    @admin.display(description="Instruments", ordering="instruments_n")
    def instrument_count(self, obj):
        return obj.instruments_n

    def has_delete_permission(self, request, obj=None):
        return False  # instruments point at it; detach them first

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:  # refused by the schedule: nothing saved
            messages.error(request, exc.message)
            return redirect(request.path)

    def save_model(self, request, obj, form, change):
        calendar_save(
            calendar=obj,
            acting_user=request.user,
            meta=RequestMeta.from_request(request),
        )

    def save_related(self, request, form, formsets, change):
        """Holidays are saved in their own admin (the inline only shows them):
        nothing of the read-only formsets is saved."""
        for formset in formsets:
            formset.new_objects, formset.changed_objects = [], []
            formset.deleted_objects = []


class CalendarInstrumentForm(forms.ModelForm):
    class Meta:
        model = CalendarInstrument
        fields = (
            "calendar",
            "volatility_band_bps",
            "volatility_call_seconds",
            "volatility_random_seconds",
        )


def _next_transition(session: InstrumentSession | None) -> str:
    """The next transition as the market stream shows it: the phase, when it
    is due (UTC, a drawn random end included), or why there is none."""
    state = session_state(session)
    if state.halted:
        return "none until resumed (halted)"
    if state.next_at is None:
        return "-"
    label = SessionPhase(state.next_phase).label if state.next_phase else ""
    return f"{label} at {state.next_at:%Y-%m-%d %H:%M:%S} UTC"


def _current_phase(session: InstrumentSession | None) -> str:
    return SessionPhase(session_state(session).phase).label


@admin.register(CalendarInstrument)
class CalendarInstrumentAdmin(admin.ModelAdmin):
    """Which calendar an instrument follows (none: continuous, as before) and
    its volatility interruption settings."""

    form = CalendarInstrumentForm
    list_display = (
        "symbol",
        "calendar",
        "current_phase",
        "next_transition",
        "volatility_band_bps",
        "volatility_call_seconds",
        "volatility_random_seconds",
    )
    list_select_related = ("calendar", "session")
    list_filter = ("calendar",)
    search_fields = ("symbol",)
    readonly_fields = ("symbol", "current_phase", "next_transition")
    fields = (
        "symbol",
        "current_phase",
        "next_transition",
        *CalendarInstrumentForm.Meta.fields,
    )

    @admin.display(description="phase")
    def current_phase(self, obj):
        return _current_phase(getattr(obj, "session", None))

    @admin.display(description="next transition")
    def next_transition(self, obj):
        return _next_transition(getattr(obj, "session", None))

    def has_add_permission(self, request):
        return False  # instruments are created in trading

    def has_delete_permission(self, request, obj=None):
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect(request.path)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        instrument_calendar_set(
            instrument=obj,
            calendar=data["calendar"],
            volatility_band_bps=data["volatility_band_bps"],
            volatility_call_seconds=data["volatility_call_seconds"],
            volatility_random_seconds=data["volatility_random_seconds"],
            acting_user=request.user,
            meta=RequestMeta.from_request(request),
        )

    def save_related(self, request, form, formsets, change):
        """Nothing related to save here."""


class SessionTransitionInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = SessionTransition
    fields = (
        "created_at",
        "kind",
        "trading_day",
        "old_phase",
        "new_phase",
        "due_at",
        "acting_user",
        "note",
    )
    readonly_fields = fields
    ordering = ("-id",)
    extra = 0
    can_delete = False


class SessionActionForm(ActionForm):
    reason = forms.CharField(
        required=False, max_length=200, help_text="Why (halt, extend, resume)."
    )
    minutes = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_EXTENSION_MINUTES,
        help_text="To extend by.",
    )


@admin.register(InstrumentSession)
class InstrumentSessionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "instrument",
        "trading_day",
        "phase",
        "entered_at",
        "next_transition",
        "halted",
        "extended_until",
    )
    list_filter = ("phase", "halted")
    list_select_related = ("instrument",)
    search_fields = ("instrument__symbol",)
    readonly_fields = (
        "instrument",
        "trading_day",
        "phase",
        "entered_at",
        "next_transition",
        "due_phase",
        "due_trading_day",
        "due_nominal_at",
        "due_at",
        "call_ends_at",
        "halted",
        "halted_at",
        "extended_until",
        "updated_at",
    )
    fields = readonly_fields
    inlines = (SessionTransitionInline,)
    action_form = SessionActionForm
    actions = ("halt_selected", "extend_selected", "resume_selected")

    @admin.display(description="next transition")
    def next_transition(self, obj):
        """A volatility call's drawn end, else the scheduled one: what the
        market stream and the trade screen show."""
        return _next_transition(obj)

    def has_operate_permission(self, request):
        return request.user.has_perm(OPERATE)

    def _each(self, request, queryset, action, done: str) -> None:
        ok = 0
        for session in queryset.select_related("instrument").order_by("pk"):
            try:
                action(session.instrument)
            except ApplicationError as exc:
                messages.error(request, f"{session.instrument}: {exc.message}")
            else:
                ok += 1
        if ok:
            messages.success(request, f"{ok} {done}.")

    @admin.action(description="Halt the phase of selected", permissions=["operate"])
    def halt_selected(self, request, queryset):
        reason = request.POST.get("reason", "")
        meta = RequestMeta.from_request(request)
        self._each(
            request,
            queryset,
            lambda i: session_halt(
                instrument=i, acting_user=request.user, reason=reason, meta=meta
            ),
            "session(s) halted",
        )

    @admin.action(
        description="Extend the phase of selected by the minutes given",
        permissions=["operate"],
    )
    def extend_selected(self, request, queryset):
        reason = request.POST.get("reason", "")
        try:
            minutes = int(request.POST.get("minutes") or 0)
        except ValueError:
            minutes = 0
        meta = RequestMeta.from_request(request)
        self._each(
            request,
            queryset,
            lambda i: session_extend(
                instrument=i,
                minutes=minutes,
                acting_user=request.user,
                reason=reason,
                meta=meta,
            ),
            "session(s) extended",
        )

    @admin.action(description="Resume the phase of selected", permissions=["operate"])
    def resume_selected(self, request, queryset):
        reason = request.POST.get("reason", "")
        meta = RequestMeta.from_request(request)
        self._each(
            request,
            queryset,
            lambda i: session_resume(
                instrument=i, acting_user=request.user, reason=reason, meta=meta
            ),
            "session(s) resumed",
        )
