"""Error codes of the calendars app (the `code` of an ApplicationError)."""

from __future__ import annotations

from enum import StrEnum


class Code(StrEnum):
    CALENDAR_INVALID = "calendar_invalid"
    SESSION_NOT_FOUND = "session_not_found"
    SESSION_HALTED = "session_halted"
    SESSION_NOT_HALTED = "session_not_halted"
    SESSION_NOTHING_DUE = "session_nothing_due"
    REASON_REQUIRED = "reason_required"
    EXTENSION_INVALID = "extension_invalid"
