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
