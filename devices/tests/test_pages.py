"""The "Notification channels" page and the service worker at /sw.js."""

from __future__ import annotations

import re

import pytest
import responses
from django.test import Client

from accounts.testing import PASSWORD
from devices.models import MobileDevice, PhoneNumber, WebPushSubscription
from devices.tests.conftest import new_browser
from devices.tests.test_phone import code_in
from devices.tests.test_sms import twilio_fake

pytestmark = pytest.mark.django_db

PAGE = "/account/notification-channels/"


def browser_for(user) -> Client:
    browser = Client()
    response = browser.post("/login/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return browser


def test_the_page_needs_a_login():
    response = Client().get(PAGE)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_security_page_links_to_it(user):
    page = browser_for(user).get("/account/security/").content.decode()
    assert f'href="{PAGE}"' in page


def test_the_page_shows_the_three_channels(user, twilio, vapid):
    browser = new_browser()
    WebPushSubscription.objects.create(
        user=user,
        endpoint=browser.endpoint,
        p256dh=browser.p256dh,
        auth=browser.auth,
        browser="Firefox 121 on Linux",
    )
    MobileDevice.objects.create(
        user=user, platform="apns", token="t-1", name="iPhone 15"
    )

    response = browser_for(user).get(PAGE)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Notification channels" in page
    assert 'name="number"' in page and "Send a code" in page
    assert f'data-public-key="{vapid}"' in page
    assert 'data-sw="/sw.js"' in page
    assert "Firefox 121 on Linux" in page
    assert "iPhone 15" in page and "iOS (APNs through FCM)" in page
    assert "/static/devices/channels.js" in page


def test_channels_switched_off_say_so(user, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    page = browser_for(user).get(PAGE).content.decode()
    assert "SMS is not available on this site." in page
    assert "Browser notifications are not available on this site." in page
    assert "channels.js" not in page


def test_verifying_a_number_on_the_page(user, twilio):
    browser = browser_for(user)
    with responses.RequestsMock() as mock:
        sent = twilio_fake(mock)
        response = browser.post(
            PAGE, {"action": "phone-code", "number": "+447700900123"}
        )
        assert response.status_code == 302
        page = browser.get(PAGE).content.decode()
        assert "We sent a code to +447700900123." in page
        assert 'name="code"' in page and "5 tries left" in page

        wrong = browser.post(PAGE, {"action": "phone-verify", "code": "12345"})
        assert wrong.status_code == 400
        assert "The 6-digit code from the SMS." in wrong.content.decode()

        done = browser.post(PAGE, {"action": "phone-verify", "code": code_in(sent[0])})
        assert done.status_code == 302
    page = browser.get(PAGE).content.decode()
    assert "+447700900123 is verified." in page
    assert re.search(r"Text messages go to <strong class=\"mono\">\+447700900123", page)
    assert PhoneNumber.objects.get(user=user).number == "+447700900123"


def test_a_bad_number_on_the_page_shows_on_its_field(user, twilio):
    response = browser_for(user).post(PAGE, {"action": "phone-code", "number": "12"})
    assert response.status_code == 400
    assert "give the number in international form" in response.content.decode()


def test_removing_a_browser_and_a_device_on_the_page(user):
    browser = new_browser()
    subscription = WebPushSubscription.objects.create(
        user=user, endpoint=browser.endpoint, p256dh=browser.p256dh, auth=browser.auth
    )
    device = MobileDevice.objects.create(user=user, platform="fcm", token="t-2")
    client = browser_for(user)

    assert (
        client.post(
            PAGE, {"action": "webpush-remove", "id": subscription.pk}
        ).status_code
        == 302
    )
    assert (
        client.post(PAGE, {"action": "mobile-remove", "id": device.pk}).status_code
        == 302
    )
    assert not WebPushSubscription.objects.exists()
    assert not MobileDevice.objects.exists()
    again = client.post(PAGE, {"action": "mobile-remove", "id": device.pk}, follow=True)
    assert "no device of yours has this id." in again.content.decode()


def test_the_service_worker_is_served_at_the_root():
    response = Client().get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert response["Cache-Control"] == "no-cache"
    source = response.content.decode()
    assert 'addEventListener("push"' in source
    assert 'addEventListener("notificationclick"' in source


def test_the_back_office_lists_devices_read_only_without_whole_tokens(user):
    from accounts.testing import admin_client_for, make_user

    MobileDevice.objects.create(
        user=user, platform="fcm", token="secret-token-0123456789abcdef", name="Pixel"
    )
    PhoneNumber.objects.create(user=user, number="+447700900123")
    staff = make_user(email="root@example.com", is_superuser=True)
    client = admin_client_for(staff)

    for model in (
        "mobiledevice",
        "phonenumber",
        "phonechallenge",
        "webpushsubscription",
    ):
        response = client.get(f"/admin/devices/{model}/")
        assert response.status_code == 200, model
        assert f"/admin/devices/{model}/add/" not in response.content.decode()
    page = client.get("/admin/devices/mobiledevice/").content.decode()
    assert "secret-token" in page and "secret-token-0123456789abcdef" not in page
    device = MobileDevice.objects.get()
    assert (
        client.get(f"/admin/devices/mobiledevice/{device.pk}/delete/").status_code
        == 403
    )
