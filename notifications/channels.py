"""The delivery channels' contract: how a notification leaves the platform.

notifications owns the in-app and email channels. Channels that reach a user's
own devices (SMS, Web Push, mobile push) live in the `devices` app, which owns
the phone numbers, subscriptions and tokens they need, and registers a sender
here from its AppConfig.ready(). The delivery task calls `sender_for(channel)`
with one `OutgoingMessage` per delivery row; notifications never imports devices.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class OutgoingMessage:
    """One (event, channel, recipient) delivery, rendered for a short channel."""

    delivery_id: int  # stable across retries: the provider's idempotency key
    user_id: int
    event_type: str
    title: str  # a line: an SMS or push title
    body: str  # plain text, a few lines at most
    url: str  # absolute link to the page that shows it
    security: bool  # cannot be turned off by the user
    data: Mapping[str, str] = field(default_factory=dict)


class ProviderError(Exception):
    """The provider refused or failed. `answer` is what it said (shown to
    operators in the admin); `permanent` means a retry cannot help."""

    def __init__(self, answer: str, *, permanent: bool = False) -> None:
        super().__init__(answer)
        self.answer = answer
        self.permanent = permanent


class NoTarget(Exception):
    """The user has nowhere on this channel to receive it (no verified phone,
    no subscribed browser or device): the delivery is skipped, not failed."""


# A sender returns the provider's reference or answer (kept on the delivery).
Sender = Callable[[OutgoingMessage], str]
# Which of these users have somewhere on the channel to receive anything (a
# phone, a subscribed browser, a device): one query for a whole batch.
Reach = Callable[[Collection[int]], set[int]]

_SENDERS: dict[str, Sender] = {}
_REACH: dict[str, Reach] = {}


def register(channel: str, sender: Sender, *, reach: Reach | None = None) -> None:
    """`reach`, when given, lets `notify` skip writing a delivery that could
    only end skipped (a fill would otherwise write a push row for every user
    without a device). It may answer more users than can receive (the sender
    still says NoTarget), never fewer."""
    _SENDERS[channel] = sender
    if reach is None:
        _REACH.pop(channel, None)
    else:
        _REACH[channel] = reach


def sender_for(channel: str) -> Sender | None:
    return _SENDERS.get(channel)


def reachable(channel: str, user_ids: Collection[int]) -> set[int]:
    """The users among `user_ids` the channel may reach (all, without a reach)."""
    reach = _REACH.get(channel)
    return set(user_ids) if reach is None else reach(user_ids)


def registered() -> tuple[str, ...]:
    return tuple(sorted(_SENDERS))
