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
