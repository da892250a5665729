"""Web Push with VAPID (pywebpush), against a fake push service at the HTTP
layer (responses) that checks what RFC 8030/8291/8292 require and decrypts the
body with the browser's keys; subscriptions through the API."""

from __future__ import annotations

import base64
import json
import time

import http_ece
import pytest
import requests
import responses
from py_vapid import Vapid02

from accounts.testing import api_client_for, make_user
from devices import senders
from devices.models import WebPushSubscription
from devices.tests.conftest import VAPID_SUBJECT, Browser, new_browser
from devices.tests.test_sms import message_for
from notifications.channels import NoTarget, ProviderError

pytestmark = pytest.mark.django_db

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def push_service(mock, browser: Browser, *, vapid_public: str, status: int = 201):
    """The push service behind `browser.endpoint`: checks the VAPID header (the
    signature, the audience, the subject, the expiry, our public key), the
    aes128gcm encoding, the TTL; decrypts what it got with the browser's keys."""
    received: list[dict] = []

    def handler(request):
        authorization = request.headers["Authorization"]
        assert authorization.startswith("vapid t=")
        token, key = authorization[len("vapid t=") :].split(",k=")
        assert key == vapid_public
        assert Vapid02.verify(authorization)  # the ES256 signature, with k
        claims = jwt_claims(token)
        assert claims["aud"] == "https://fcm.googleapis.com"
        assert claims["sub"] == VAPID_SUBJECT
        assert time.time() < claims["exp"] <= time.time() + 24 * 3600
        assert request.headers["Content-Encoding"] == "aes128gcm"
        assert int(request.headers["TTL"]) == 24 * 3600
        assert request.headers["Urgency"] == "high"
        body = (
            request.body if isinstance(request.body, bytes) else request.body.encode()
        )
        plain = http_ece.decrypt(
            body,
            private_key=browser.key,
            auth_secret=browser.auth_secret,
            version="aes128gcm",
        )
        received.append(json.loads(plain))
        headers = {"Location": f"{browser.endpoint}/messages/{len(received)}"}
        return status, headers, "" if status < 300 else "gone"

    mock.add_callback(responses.POST, browser.endpoint, callback=handler)
    return received


def subscribe(user, browser: Browser) -> WebPushSubscription:
    response = api_client_for(user).post(
        "/api/v1/devices/webpush/subscriptions",
        browser.subscription_json(),
        format="json",
        HTTP_USER_AGENT=FIREFOX,
    )
    assert response.status_code in (200, 201), response.content
    return WebPushSubscription.objects.get(pk=response.json()["id"])


def test_a_push_is_encrypted_signed_and_decrypts_to_the_message(user, vapid):
    browser = new_browser()
    subscription = subscribe(user, browser)
    assert subscription.browser == "Firefox 121 on Linux"

    with responses.RequestsMock() as mock:
        received = push_service(mock, browser, vapid_public=vapid)
        reference = senders.send_webpush(message_for(user))

    assert received == [
        {
            "title": "Withdrawal sent",
            "body": "0.5 BTC left for bc1q…wlh.",
            "url": "https://exchange.example/wallet/withdrawals/9",
            "tag": "withdrawal_sent-41",
            "data": {},
        }
    ]
    assert reference == f"sent to 1 browsers: {browser.endpoint}/messages/1"
    subscription.refresh_from_db()
    assert subscription.last_sent_at is not None


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_subscription_is_deleted(user, vapid, status):
    dead, alive = new_browser("dead"), new_browser("alive")
    subscribe(user, dead)
    subscribe(user, alive)

    with responses.RequestsMock() as mock:
        push_service(mock, dead, vapid_public=vapid, status=status)
        received = push_service(mock, alive, vapid_public=vapid)
        reference = senders.send_webpush(message_for(user))

    assert len(received) == 1
    assert reference.startswith("sent to 1 browsers; 0 failed, 1 removed as dead")
    assert list(WebPushSubscription.objects.values_list("endpoint", flat=True)) == [
        alive.endpoint
    ]


def test_when_every_subscription_is_gone_there_is_no_target(user, vapid):
    dead = new_browser("dead")
    subscribe(user, dead)
    with responses.RequestsMock() as mock:
        push_service(mock, dead, vapid_public=vapid, status=410)
        with pytest.raises(NoTarget):
            senders.send_webpush(message_for(user))
    assert not WebPushSubscription.objects.exists()


@pytest.mark.parametrize(
    ("status", "permanent"),
    [(429, False), (500, False), (503, False), (400, True), (413, True)],
)
def test_push_service_errors_are_retryable_or_permanent(user, vapid, status, permanent):
    browser = new_browser()
    subscribe(user, browser)
    with responses.RequestsMock() as mock:
        push_service(mock, browser, vapid_public=vapid, status=status)
        with pytest.raises(ProviderError) as refused:
            senders.send_webpush(message_for(user))
    assert refused.value.permanent is permanent
    assert f"push service {status}" in refused.value.answer
    assert WebPushSubscription.objects.count() == 1  # kept: not a dead endpoint


def test_a_push_service_unreachable_is_retryable(user, vapid):
    browser = new_browser()
    subscribe(user, browser)
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            browser.endpoint,
            body=requests.exceptions.ConnectTimeout("timed out"),
        )
        with pytest.raises(ProviderError) as refused:
            senders.send_webpush(message_for(user))
    assert refused.value.permanent is False


def test_no_subscribed_browser_is_no_target(user, vapid):
    with pytest.raises(NoTarget):
        senders.send_webpush(message_for(user))


def test_subscribing_again_or_from_another_account_keeps_one_row(user, vapid):
    browser = new_browser()
    client = api_client_for(user)
    first = client.post(
        "/api/v1/devices/webpush/subscriptions",
        browser.subscription_json(),
        format="json",
    )
    again = client.post(
        "/api/v1/devices/webpush/subscriptions",
        browser.subscription_json(),
        format="json",
    )
    assert (first.status_code, again.status_code) == (201, 200)
    other = make_user(email="same-browser@example.com")
    moved = api_client_for(other).post(
        "/api/v1/devices/webpush/subscriptions",
        browser.subscription_json(),
        format="json",
    )
    assert moved.status_code == 200
    assert list(WebPushSubscription.objects.values_list("user_id", flat=True)) == [
        other.pk
    ]


def test_the_list_unsubscribe_and_remove(user, vapid):
    one, two = new_browser("one"), new_browser("two")
    first = subscribe(user, one)
    kept = subscribe(user, two)
    client = api_client_for(user)

    listed = client.get("/api/v1/devices/webpush/subscriptions").json()
    assert [row["id"] for row in listed] == [kept.pk, first.pk]
    assert set(listed[0]) == {"id", "browser", "created_at", "last_sent_at"}

    gone = client.post(
        "/api/v1/devices/webpush/unsubscribe", {"endpoint": one.endpoint}, format="json"
    )
    assert gone.status_code == 204
    assert list(WebPushSubscription.objects.values_list("pk", flat=True)) == [kept.pk]

    other = make_user(email="not-yours@example.com")
    assert (
        api_client_for(other)
        .delete(f"/api/v1/devices/webpush/subscriptions/{kept.pk}")
        .status_code
        == 404
    )
    removed = client.delete(f"/api/v1/devices/webpush/subscriptions/{kept.pk}")
    assert removed.status_code == 204
    assert not WebPushSubscription.objects.exists()


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://fcm.googleapis.com/fcm/send/x",  # not https
        "https://169.254.169.254/latest/meta-data",  # not a push service
        "https://fcm.googleapis.com.evil.example/x",
        "https://fcm.googleapis.com:8443/fcm/send/x",
    ],
)
def test_an_endpoint_that_is_not_a_push_service_is_a_400(user, vapid, endpoint):
    body = {**new_browser().subscription_json(), "endpoint": endpoint}
    response = api_client_for(user).post(
        "/api/v1/devices/webpush/subscriptions", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webpush_endpoint_invalid"
    assert "endpoint" in response.json()["error"]["details"]
    assert not WebPushSubscription.objects.exists()


def test_keys_that_are_not_a_subscriptions_are_a_400(user, vapid):
    body = new_browser().subscription_json()
    body["keys"]["auth"] = "c2hvcnQ"
    response = api_client_for(user).post(
        "/api/v1/devices/webpush/subscriptions", body, format="json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webpush_keys_invalid"
    missing = api_client_for(user).post(
        "/api/v1/devices/webpush/subscriptions",
        {"endpoint": body["endpoint"]},
        format="json",
    )
    assert missing.status_code == 400
    assert "keys" in missing.json()["error"]["details"]


def test_the_public_key_and_web_push_switched_off(user, vapid, settings):
    client = api_client_for(user)
    assert client.get("/api/v1/devices/webpush/key").json() == {"public_key": vapid}
    settings.WEBPUSH_VAPID_PRIVATE_KEY = ""
    off = client.get("/api/v1/devices/webpush/key")
    assert off.status_code == 503
    assert off.json()["error"]["code"] == "webpush_unavailable"


def test_the_vapid_key_command_prints_a_working_pair(capsys):
    from django.core.management import call_command

    call_command("webpush_vapid_keys")
    lines = dict(
        line.split("=", 1) for line in capsys.readouterr().out.splitlines() if line
    )
    public = base64.urlsafe_b64decode(lines["WEBPUSH_VAPID_PUBLIC_KEY"] + "==")
    assert len(public) == 65 and public[0] == 4
    signer = Vapid02.from_string(lines["WEBPUSH_VAPID_PRIVATE_KEY"])
    header = signer.sign(
        {
            "aud": "https://push.example",
            "sub": VAPID_SUBJECT,
            "exp": int(time.time()) + 60,
        }
    )
    assert header["Authorization"].endswith(",k=" + lines["WEBPUSH_VAPID_PUBLIC_KEY"])
    assert Vapid02.verify(header["Authorization"])
