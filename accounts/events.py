"""Domain events of the accounts app (config/events.py; subscribers in
config/subscribers.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignInsEnded:
    """Sign-ins of a user ended: the listed ones (public ids), or, with
    `everything`, all of them but `keep`. Open streams of theirs must close."""

    user_id: int
    sign_ins: tuple[str, ...]
    everything: bool = False
    keep: str | None = None


@dataclass(frozen=True)
class SecondFactorResetRequested:
    """Support asked to reset the second factor of a user who lost every one.
    The identity check that must come first is kyc's business (its subscriber
    opens a re-check case, or refuses, which rolls the request back)."""

    user_id: int
    staff_id: int
    reason: str
    ip_address: str | None
    user_agent: str


@dataclass(frozen=True)
class SecurityNotice:
    """Something changed the way into an account, or staff acted on it: the
    owner must hear of it (notifications; these cannot be turned off).

    `kind` is one of KINDS; `detail` holds short display strings only (never a
    secret, token or code): e.g. {"device": "Firefox on Linux"} or
    {"action": "Account locked"}."""

    KINDS = frozenset(
        {
            "new_device_sign_in",
            "password_changed",
            "email_changed",
            "second_factor_added",
            "second_factor_removed",
            "backup_codes_regenerated",
            "phone_changed",
            "api_key_changed",
            "staff_action",
        }
    )

    user_id: int
    kind: str
    detail: tuple[tuple[str, str], ...] = ()
    ip_address: str | None = None
    user_agent: str = ""
