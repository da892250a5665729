from django.apps import AppConfig


class CalendarsConfig(AppConfig):
    name = "calendars"
    verbose_name = "Trading calendars"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The matcher follows the sessions through the hook trading declares
        # (trading must not import calendars).
        from calendars.selectors import session_due_instrument_ids, session_phase
        from calendars.services import (
            session_due_transitions,
            session_transition_record,
            session_volatility_call_start,
        )
        from trading.phases import PhaseHooks, phase_hooks_register

        phase_hooks_register(
            PhaseHooks(
                due_transitions=session_due_transitions,
                transition_record=session_transition_record,
                current_phase=session_phase,
                volatility_call_start=session_volatility_call_start,
                due_instrument_ids=session_due_instrument_ids,
            )
        )
