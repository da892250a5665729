"""Each event the issue names becomes the catalogue's notification, recorded
in a transaction as its service would (config.events.record)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.test import Client

from accounts.events import SecurityNotice
from accounts.testing import make_user
from config.events import record
from notifications.models import Delivery, Notification
from trading.events import PriceAlertTriggered
from wallet.events import AdjustmentDecided, BalanceBelowMinimum, WithdrawalDecided
from wallet.tests.helpers import make_asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def bob():
    make_asset("USD", 2)
    return make_user(email="bob@example.com")


def _record(event) -> None:
    with transaction.atomic():
        record(event)


@pytest.mark.parametrize(
    ("status", "title", "sentence"),
    [
        ("approved", "Withdrawal approved: 50.00 USD", "is approved"),
        ("rejected", "Withdrawal rejected: 50.00 USD", "Reason: name mismatch"),
        ("sent", "Withdrawal sent: 50.00 USD", "sent to the payout rail"),
        ("completed", "Withdrawal completed: 50.00 USD", "is completed"),
        ("failed", "Withdrawal failed: 50.00 USD", "back in your wallet"),
    ],
)
def test_each_withdrawal_decision(bob, status, title, sentence):
    _record(
        WithdrawalDecided(
            withdrawal_id=4,
            user_id=bob.pk,
            asset="USD",
            amount=5_000,
            old_status="requested",
            status=status,
            reason="name mismatch",
        )
    )
    item = Notification.objects.get(user=bob)
    assert item.event_type == f"withdrawal_{status}"
    assert item.key == f"withdrawal:4:{status}"
    assert item.title == title
    assert sentence in item.body


def test_an_adjustment_is_told_when_posted_only(bob):
    _record(
        AdjustmentDecided(
            adjustment_id=1,
            user_id=bob.pk,
            asset="USD",
            amount=-250,
            status="rejected",
            reason="duplicate",
        )
    )
    assert not Notification.objects.exists()
    _record(
        AdjustmentDecided(
            adjustment_id=2,
            user_id=bob.pk,
            asset="USD",
            amount=-250,
            status="approved",
            reason="chargeback fee",
        )
    )
    item = Notification.objects.get(user=bob)
    assert (item.event_type, item.title) == (
        "adjustment_posted",
        "Balance adjustment: debit of 2.50 USD",
    )
    assert "Reason: chargeback fee" in item.body


def test_a_price_alert_and_a_low_balance(bob):
    _record(
        PriceAlertTriggered(
            alert_id=3,
            user_id=bob.pk,
            symbol="BTC-USD",
            condition="above",
            threshold="100000.00",
            last_price="100010.00",
            trade_id=77,
            repeating=False,
        )
    )
    _record(
        BalanceBelowMinimum(
            user_id=bob.pk, asset="USD", minimum=10_000, available=9_999
        )
    )
    alert = Notification.objects.get(event_type="price_alert")
    assert alert.title == "BTC-USD is above 100000.00"
    assert alert.url == "/trade/BTC-USD/"
    assert alert.body.endswith("The alert is now off.")
    low = Notification.objects.get(event_type="balance_low")
    assert "is 99.99 USD, below the minimum of 100.00 USD" in low.body
    # the same alert and trade again (a re-delivered run) is not told twice
    _record(
        PriceAlertTriggered(
            alert_id=3,
            user_id=bob.pk,
            symbol="BTC-USD",
            condition="above",
            threshold="100000.00",
            last_price="100010.00",
            trade_id=77,
            repeating=False,
        )
    )
    assert Notification.objects.filter(event_type="price_alert").count() == 1


@pytest.mark.parametrize("kind", sorted(SecurityNotice.KINDS))
def test_every_security_notice_goes_by_email_whatever_the_preferences(bob, kind):
    _record(SecurityNotice(user_id=bob.pk, kind=kind, detail=(("device", "Firefox"),)))
    item = Notification.objects.get(user=bob, event_type=kind)
    assert "Device: Firefox" in item.body
    assert set(
        Delivery.objects.filter(notification=item).values_list("channel", flat=True)
    ) >= {"email"}


def test_the_admin_lists_deliveries_with_the_providers_answer(bob):
    _record(SecurityNotice(user_id=bob.pk, kind="password_changed"))
    Delivery.objects.update(status="failed", provider_answer="550 no such mailbox")
    staff = make_user(email="ops@example.com", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_delivery", "retry_delivery"])
    )
    client = Client()
    client.force_login(staff)
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=staff, name="t", confirmed=True)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session.save()
    page = client.get("/admin/notifications/delivery/?status__exact=failed")
    assert page.status_code == 200
    assert b"550 no such mailbox" in page.content
    assert b"Send again" in page.content
