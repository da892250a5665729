"""The API (cursor pagination, mark read, preferences, errors in the documented
shape), the pages (list, mark read, preferences, one-click unsubscribe), the
security notices and the admin's "send again"."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.test import Client

from accounts.events import SecurityNotice
from accounts.models import AuditCode, AuditEvent
from accounts.testing import api_client_for, make_user
from config.events import record
from notifications.email import unsubscribe_token
from notifications.models import Delivery, Notification, Preference
from notifications.services import Draft, notify
from notifications.services.delivery import delivery_retry
from wallet.events import DepositCredited, TransferReceived
from wallet.tests.helpers import make_asset

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    make_asset("USD", 2)
    return make_user(email="alice@example.com")


def _items(user, n: int) -> None:
    with transaction.atomic():
        notify(
            drafts=[
                Draft(
                    user_id=user.pk,
                    event_type="transfer_received",
                    key=f"test:{index}",
                    title=f"Item {index}",
                    body="Body",
                    url="/wallet/",
                )
                for index in range(n)
            ]
        )


# --- API ----------------------------------------------------------------------------


def test_the_list_is_cursor_paginated_newest_first(
    alice, django_assert_max_num_queries
):
    _items(alice, 25)
    client = api_client_for(alice)
    with django_assert_max_num_queries(6):
        first = client.get("/api/v1/notifications/?limit=10")
    assert first.status_code == 200
    assert first["X-Unread-Count"] == "25"
    page = first.json()
    assert [item["title"] for item in page["results"]] == [
        f"Item {index}" for index in range(24, 14, -1)
    ]
    assert set(page["results"][0]) == {
        "id",
        "event_type",
        "title",
        "body",
        "url",
        "data",
        "created_at",
        "read_at",
    }
    seen = [item["id"] for item in page["results"]]
    url = page["next"]
    while url:
        page = client.get(url).json()
        seen += [item["id"] for item in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) == 25


def test_a_made_up_cursor_is_a_400_in_the_error_shape(alice):
    response = api_client_for(alice).get("/api/v1/notifications/?cursor=bogus")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"
    assert "cursor" in response.json()["error"]["details"]


def test_mark_read_one_and_all(alice):
    _items(alice, 3)
    other = make_user(email="mallory@example.com")
    _items(other, 1)
    client = api_client_for(alice)
    first = Notification.objects.filter(user=alice).order_by("id").first()
    response = client.post(f"/api/v1/notifications/{first.pk}/read")
    assert response.status_code == 200
    assert response.json() == {"unread": 2}
    first.refresh_from_db()
    assert first.read_at is not None
    # somebody else's item is not found, in the documented shape
    theirs = Notification.objects.get(user=other)
    response = client.post(f"/api/v1/notifications/{theirs.pk}/read")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "notification_not_found"
    response = client.post("/api/v1/notifications/read-all")
    assert response.json() == {"unread": 0}
    assert not Notification.objects.filter(user=alice, read_at__isnull=True).exists()
    assert Notification.objects.filter(user=other, read_at__isnull=True).count() == 1


def test_preferences_read_and_change(alice):
    client = api_client_for(alice)
    grid = client.get("/api/v1/notifications/preferences").json()
    row = {(r["event_type"], r["channel"]): r for r in grid}
    assert row[("order_filled", "email")]["enabled"] is True
    assert row[("order_partially_filled", "email")]["enabled"] is False
    assert row[("password_changed", "sms")] == {
        "event_type": "password_changed",
        "category": "account",
        "channel": "sms",
        "enabled": True,
        "locked": True,
    }
    response = client.put(
        "/api/v1/notifications/preferences",
        {
            "preferences": [
                {"event_type": "order_filled", "channel": "email", "enabled": False}
            ]
        },
        format="json",
    )
    assert response.status_code == 200
    row = {(r["event_type"], r["channel"]): r for r in response.json()}
    assert row[("order_filled", "email")]["enabled"] is False
    assert Preference.objects.get(user=alice).enabled is False


def test_a_security_notice_cannot_be_turned_off(alice):
    response = api_client_for(alice).put(
        "/api/v1/notifications/preferences",
        {
            "preferences": [
                {"event_type": "password_changed", "channel": "email", "enabled": False}
            ]
        },
        format="json",
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "security_notification_locked"
    assert "event_type" in error["details"]
    assert not Preference.objects.exists()


def test_bad_preferences_name_the_field(alice):
    client = api_client_for(alice)
    response = client.put(
        "/api/v1/notifications/preferences",
        {
            "preferences": [
                {"event_type": "order_filled", "channel": "fax", "enabled": True}
            ]
        },
        format="json",
    )
    assert response.status_code == 400
    assert "channel" in str(response.json()["error"]["details"])
    response = client.put("/api/v1/notifications/preferences", {}, format="json")
    assert response.status_code == 400
    assert "preferences" in response.json()["error"]["details"]


def test_the_api_needs_a_sign_in():
    from rest_framework.test import APIClient

    response = APIClient().get("/api/v1/notifications/")
    assert response.status_code == 401
    assert "error" in response.json()


# --- Preferences act on delivery ----------------------------------------------------


def test_a_channel_turned_off_is_not_sent(alice, django_capture_on_commit_callbacks):
    Preference.objects.create(
        user=alice, event_type="deposit_credited", channel="email", enabled=False
    )
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        record(DepositCredited(deposit_id=1, user_id=alice.pk, asset="USD", amount=500))
    item = Notification.objects.get(user=alice)
    assert item.in_app
    assert not Delivery.objects.filter(notification=item, channel="email").exists()


def test_everything_off_writes_nothing(alice):
    for channel in ("in_app", "email", "webpush", "mobile"):
        Preference.objects.create(
            user=alice, event_type="transfer_received", channel=channel, enabled=False
        )
    with transaction.atomic():
        record(
            TransferReceived(
                transfer_id=1,
                user_id=alice.pk,
                sender_email="bob@example.com",
                asset="USD",
                amount=100,
                note="",
            )
        )
    assert not Notification.objects.exists()


def test_an_email_change_tells_the_old_address_too(
    alice, smtp_server, django_capture_on_commit_callbacks
):
    Preference.objects.create(
        user=alice, event_type="email_changed", channel="email", enabled=False
    )  # ignored: a security notice
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        record(
            SecurityNotice(
                user_id=alice.pk,
                kind="email_changed",
                detail=(("old_email", "old-alice@example.com"),),
                ip_address="203.0.113.9",
            )
        )
    item = Notification.objects.get(user=alice, event_type="email_changed")
    assert "Previous address: old-alice@example.com" in item.body
    assert "IP address: 203.0.113.9" in item.body
    addresses = sorted(
        Delivery.objects.filter(notification=item, channel="email").values_list(
            "address", flat=True
        )
    )
    assert addresses == ["", "old-alice@example.com"]
    assert [m["To"] for m in smtp_server].count("alice@example.com") == 1
    [old] = smtp_server.to("old-alice@example.com")
    assert old["Subject"] == "The email address of your account was changed"
    assert old["List-Unsubscribe"] is None  # security: no unsubscribe
    assert "cannot be turned off" in smtp_server.body(old)


# --- Pages --------------------------------------------------------------------------


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_list_page_and_mark_read(alice):
    _items(alice, 2)
    client = _browser(alice)
    page = client.get("/notifications/")
    assert page.status_code == 200
    assert b"Item 1" in page.content and b"Item 0" in page.content
    item = Notification.objects.filter(user=alice).order_by("id").first()
    response = client.post(f"/notifications/{item.pk}/read/", {"next": "/wallet/"})
    assert response.status_code == 302 and response["Location"] == "/wallet/"
    item.refresh_from_db()
    assert item.read_at is not None
    response = client.post(
        "/notifications/read-all/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/notifications/"
    assert not Notification.objects.filter(user=alice, read_at__isnull=True).exists()


def test_every_page_has_the_bell_and_security_links_the_preferences(alice):
    page = _browser(alice).get("/account/security/")
    html = page.content.decode()
    assert "data-notif-centre" in html
    assert 'href="/notifications/preferences/"' in html


def test_the_preferences_page_locks_security_rows(alice):
    client = _browser(alice)
    html = client.get("/notifications/preferences/").content.decode()
    assert re.search(r'name="password_changed:email"[^>]*checked[^>]*disabled', html)
    # the form sends the checked boxes: everything unchecked turns them off,
    # security notices stay as they are
    response = client.post("/notifications/preferences/", {"order_filled:in_app": "on"})
    assert response.status_code == 302
    chosen = dict(
        Preference.objects.filter(user=alice, event_type="order_filled").values_list(
            "channel", "enabled"
        )
    )
    assert chosen == {
        "in_app": True,
        "email": False,
        "sms": False,
        "webpush": False,
        "mobile": False,
    }
    assert not Preference.objects.filter(event_type="password_changed").exists()


def test_one_click_unsubscribe(alice, smtp_server, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        record(DepositCredited(deposit_id=2, user_id=alice.pk, asset="USD", amount=500))
    [message] = smtp_server.to("alice@example.com")
    link = message["List-Unsubscribe"].strip().strip("<>")
    assert link == smtp_server.link("alice@example.com", "/notifications/unsubscribe/")
    path = link.removeprefix("http://localhost:8000")
    anonymous = Client(enforce_csrf_checks=True)
    page = anonymous.get(path)
    assert page.status_code == 200
    assert b"Deposit credited" in page.content
    assert not Preference.objects.exists()  # a GET (a link scanner) changes nothing
    # RFC 8058: the mail client POSTs List-Unsubscribe=One-Click, no CSRF token
    response = anonymous.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert (
        Preference.objects.get(
            user=alice, event_type="deposit_credited", channel="email"
        ).enabled
        is False
    )


def test_a_forged_or_security_unsubscribe_is_refused(alice):
    client = Client()
    assert client.get("/notifications/unsubscribe/forged/").status_code == 400
    token = unsubscribe_token(user_id=alice.pk, event_type="password_changed")
    assert client.post(f"/notifications/unsubscribe/{token}/").status_code == 400
    assert not Preference.objects.exists()


# --- The admin's "send again" ------------------------------------------------------


def test_an_operator_sends_a_failed_delivery_again_audited(
    alice, django_capture_on_commit_callbacks
):
    with transaction.atomic():
        record(DepositCredited(deposit_id=3, user_id=alice.pk, asset="USD", amount=500))
    delivery = Delivery.objects.get(channel="email")
    Delivery.objects.filter(pk=delivery.pk).update(
        status="failed", attempts=5, provider_answer="550 mailbox unavailable"
    )
    staff = make_user(email="ops@example.com", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="retry_delivery"))
    with django_capture_on_commit_callbacks(execute=True):
        delivery_retry(delivery_id=delivery.pk, staff=staff)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    event = AuditEvent.objects.get(code=AuditCode.NOTIFICATION_DELIVERY_RETRIED)
    assert (event.user, event.acting_user) == (alice, staff)
    assert event.extra["old"] == {"status": "failed", "attempts": 5}
    assert event.extra["previous_answer"] == "550 mailbox unavailable"
    with pytest.raises(Exception, match="only failed or skipped"):
        delivery_retry(delivery_id=delivery.pk, staff=staff)


def test_an_id_past_any_row_is_a_404(alice):
    response = api_client_for(alice).post(
        "/api/v1/notifications/99999999999999999999999/read"
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "notification_not_found"
