"""A delivery row is written only on a channel the user can be reached on: a
fill or a deposit for a user with no browser subscribed and no device writes
no push rows (they could only end skipped), one query per channel per batch."""

from __future__ import annotations

import pytest
from django.db import transaction

from config.events import record
from devices.models import MobileDevice, PhoneNumber, WebPushSubscription
from kyc.testing import make_verified_user
from notifications.models import Delivery
from notifications.services import Draft, notify
from trading.tests.helpers import make_btc_usd
from wallet.events import DepositCredited

pytestmark = pytest.mark.django_db


def _channels(user) -> list[str]:
    return sorted(Delivery.objects.filter(user=user).values_list("channel", flat=True))


def test_push_rows_only_for_users_with_a_browser_or_a_device():
    make_btc_usd()  # the USD asset the deposits are in
    bare, phone_only, browser, mobile = (
        make_verified_user(email=f"{name}@example.com")
        for name in ("bare", "phone", "browser", "mobile")
    )
    PhoneNumber.objects.create(user=phone_only, number="+447700900123")
    WebPushSubscription.objects.create(
        user=browser, endpoint="https://push.example.com/1", p256dh="k", auth="a"
    )
    MobileDevice.objects.create(user=mobile, platform="fcm", token="t-1")
    Delivery.objects.all().delete()

    with transaction.atomic():
        for index, user in enumerate((bare, phone_only, browser, mobile)):
            record(
                DepositCredited(
                    deposit_id=100 + index, user_id=user.pk, asset="USD", amount=100
                )
            )

    # deposits go by email, browser push and mobile push by default (not SMS)
    assert _channels(bare) == ["email"]
    assert _channels(phone_only) == ["email"]
    assert _channels(browser) == ["email", "webpush"]
    assert _channels(mobile) == ["email", "mobile"]


def test_the_reach_is_one_query_per_channel_whatever_the_number_of_users(
    django_assert_num_queries,
):
    users = [make_verified_user(email=f"u{i}@example.com") for i in range(5)]
    MobileDevice.objects.create(user=users[0], platform="fcm", token="t-9")
    Delivery.objects.all().delete()  # their KYC approvals' emails
    drafts = [
        Draft(
            user_id=user.pk,
            event_type="deposit_credited",
            key=f"reach:{user.pk}",
            title="t",
            body="b",
        )
        for user in users
    ]
    # preferences, the reach of webpush and mobile (a deposit does not go by
    # SMS: no phone query), the notifications, the deliveries, the unread
    # counts and the stream events (in its savepoint)
    with django_assert_num_queries(9, exact=False) as captured:
        notify(drafts=drafts)
    reach = [q["sql"] for q in captured.captured_queries if "devices_" in q["sql"]]
    assert len(reach) == 2
    assert not any("phonenumber" in sql for sql in reach)
    assert _channels(users[0]) == ["email", "mobile"]
    assert all(_channels(user) == ["email"] for user in users[1:])
