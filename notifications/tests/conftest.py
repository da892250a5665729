"""Fixtures of the notification tests: a market with two traders (trading's
builders), and senders registered for a test the way `devices` registers its
own (notifications.channels), removed afterwards."""

from __future__ import annotations

import pytest

from kyc.testing import make_verified_user
from notifications import channels
from notifications.models import Notification
from trading.tests.helpers import fund, make_btc_usd

USD = 100
BTC = 10**8


@pytest.fixture
def market():
    """BTC-USD, a buyer with 200,000.00 USD and a seller with 2 BTC."""
    instrument = make_btc_usd()
    seller = make_verified_user(email="seller@example.com")
    buyer = make_verified_user(email="buyer@example.com")
    fund(seller, instrument.base, 2 * BTC)
    fund(buyer, instrument.quote, 200_000 * USD)
    # their KYC approvals' notifications: not the subject of these tests
    Notification.objects.all().delete()
    return instrument, buyer, seller


class RecordingSender:
    """A channel's provider: records each message; `fail` makes it answer with
    a ProviderError (`permanent` or not) instead."""

    def __init__(self) -> None:
        self.sent: list[channels.OutgoingMessage] = []
        self.calls = 0
        self.fail: str | None = None
        self.permanent = False

    def __call__(self, message: channels.OutgoingMessage) -> str:
        self.calls += 1
        if self.fail is not None:
            raise channels.ProviderError(self.fail, permanent=self.permanent)
        self.sent.append(message)
        return f"ref-{message.delivery_id}"


@pytest.fixture
def webpush():
    """A "webpush" sender for the test (the devices app's channel name)."""
    before = channels.sender_for("webpush")
    reach = channels._REACH.get("webpush")
    sender = RecordingSender()
    channels.register("webpush", sender)  # every user reachable
    yield sender
    if before is None:
        channels._SENDERS.pop("webpush", None)
    else:
        channels.register("webpush", before, reach=reach)


@pytest.fixture
def make_traders(market):
    """`n` more verified sellers with 1 BTC each."""
    instrument = market[0]

    def build(n: int) -> list:
        users = []
        for index in range(n):
            user = make_verified_user(email=f"trader{index}@example.com")
            fund(user, instrument.base, BTC)
            users.append(user)
        Notification.objects.all().delete()
        return users

    return build
