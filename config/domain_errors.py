"""What services raise when a business rule says no: kinds of refusal, not HTTP.

A service says *what kind* of no it is (not found, conflict, rate limited, ...);
`config/errors.py` alone turns a kind into an HTTP status, so this module imports
neither Django nor DRF and services never name a status.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A business rule said no: the request, as made, cannot be done.

    `code` is stable and machine-readable; `message` is for people; `details` names
    the fields or values involved. The subclasses say what kind of no it is."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}


class Unauthenticated(ApplicationError):
    """Who is asking is not established: wrong credentials, a missing or wrong
    second factor, an invalid token."""


class Forbidden(ApplicationError):
    """Who is asking is known and may not do this."""


class NotFound(ApplicationError):
    """The thing does not exist, or is not the caller's to see."""


class Conflict(ApplicationError):
    """The thing's current state forbids it: a duplicate, already decided, closed."""


class Unprocessable(ApplicationError):
    """Well-formed, but contradicted by the facts (an amount that does not match)."""


class RateLimited(ApplicationError):
    """Too many attempts; `details["retry_after_seconds"]`, when known, says how
    long to wait."""


class Unavailable(ApplicationError):
    """Something this needs is switched off or unreachable; retrying later may
    work."""


class InvariantViolated(ApplicationError):
    """Data that must never exist was about to: a bug, not the caller's fault."""
