"""Balance alerts: the user hears once when the available balance crosses below
the minimum, and again only after it was back at or above it. Transfers tell the
recipient."""

from __future__ import annotations

import pytest

from config.tests.recording import recorded
from wallet import services
from wallet.events import BalanceBelowMinimum, TransferReceived
from wallet.ledger import HoldRequest, holds_create_new
from wallet.models import BalanceAlert, Hold
from wallet.tests.helpers import assert_ledger_ok, fund

pytestmark = pytest.mark.django_db


def _armed(user, asset) -> bool:
    return BalanceAlert.objects.get(user=user, asset=asset).armed


@pytest.mark.kyc_verified
def test_crossing_below_notifies_once_and_rearms_at_the_minimum(alice, bob, usd):
    fund(alice, usd, 2_000)
    services.balance_alert_set(user=alice, asset=usd, minimum=1_000)
    assert _armed(alice, usd) is True

    with recorded(BalanceBelowMinimum) as seen:
        services.transfer_create(
            sender=alice, to_email=bob.email, asset=usd, amount=1_000
        )  # 1,000 left: at the minimum is not below
        assert seen == []
        services.transfer_create(
            sender=alice, to_email=bob.email, asset=usd, amount=1
        )  # 999: crosses below
        services.transfer_create(
            sender=alice, to_email=bob.email, asset=usd, amount=500
        )  # 499: still below, already told
        assert seen == [
            BalanceBelowMinimum(
                user_id=alice.pk, asset="USD", minimum=1_000, available=999
            )
        ]
        assert _armed(alice, usd) is False

        services.transfer_create(
            sender=bob, to_email=alice.email, asset=usd, amount=500
        )  # 999: back up, not yet at the minimum
        assert _armed(alice, usd) is False
        services.transfer_create(
            sender=bob, to_email=alice.email, asset=usd, amount=1
        )  # 1,000: at the minimum re-arms
        assert _armed(alice, usd) is True
        services.transfer_create(
            sender=alice, to_email=bob.email, asset=usd, amount=1
        )  # 999 again: told again

    assert [event.available for event in seen] == [999, 999]
    assert {event.user_id for event in seen} == {alice.pk}  # bob has no alert
    assert_ledger_ok()


def test_a_hold_crosses_the_available_balance_too(alice, usd, btc):
    """An order's hold moves money from available to held: the available
    balance is what the alert watches. Another asset's alert is not touched."""
    fund(alice, usd, 5_000)
    fund(alice, btc, 10)
    services.balance_alert_set(user=alice, asset=usd, minimum=3_000)
    services.balance_alert_set(user=alice, asset=btc, minimum=5)
    with recorded(BalanceBelowMinimum) as seen:
        (hold,) = holds_create_new(
            user=alice, requests=[HoldRequest(usd, 2_500, "order", "alert-1")]
        )
    assert seen == [
        BalanceBelowMinimum(
            user_id=alice.pk, asset="USD", minimum=3_000, available=2_500
        )
    ]
    assert (_armed(alice, usd), _armed(alice, btc)) == (False, True)
    assert hold.status == Hold.Status.PENDING
    assert_ledger_ok()


def test_an_alert_set_above_the_balance_starts_disarmed(alice, usd):
    fund(alice, usd, 1_000)
    services.balance_alert_set(user=alice, asset=usd, minimum=2_000)
    assert _armed(alice, usd) is False  # already below: nothing new to tell
    with recorded(BalanceBelowMinimum) as seen:
        fund(alice, usd, 1_000)  # 2,000: arms
        services.balance_alert_set(user=alice, asset=usd, minimum=500)
        assert _armed(alice, usd) is True
        services.balance_alert_set(user=alice, asset=usd, minimum=3_000)
        assert _armed(alice, usd) is False
    assert seen == []
    assert_ledger_ok()


@pytest.mark.kyc_verified
def test_a_transfer_tells_the_recipient(alice, bob, usd):
    fund(alice, usd, 1_000)
    with recorded(TransferReceived) as seen:
        transfer = services.transfer_create(
            sender=alice, to_email=bob.email, asset=usd, amount=250, note=" rent "
        )
    assert seen == [
        TransferReceived(
            transfer_id=transfer.pk,
            user_id=bob.pk,
            sender_email="alice@example.com",
            asset="USD",
            amount=250,
            note="rent",
        )
    ]
    assert_ledger_ok()
