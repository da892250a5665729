"""Mobile push through FCM's HTTP v1 API (firebase-admin), against fakes of
Google's OAuth token endpoint and FCM at the HTTP layer (responses); the tokens'
registration through the API, and their removal on logout or when FCM calls
them dead."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import jwt as pyjwt
import pytest
import responses
from rest_framework.test import APIClient

from accounts.testing import PASSWORD, make_user
from devices import senders
from devices.models import MobileDevice
from devices.tests.conftest import FCM_PROJECT, FCM_SEND_URL, GOOGLE_TOKEN_URL
from devices.tests.test_sms import message_for
from notifications.channels import NoTarget, ProviderError

pytestmark = pytest.mark.django_db

ACCESS_TOKEN = "ya29.test-access-token"


def api_login(user) -> dict:
    response = APIClient().post(
        "/api/v1/auth/login",
        {"email": user.email, "password": PASSWORD},
        format="json",
        HTTP_USER_AGENT="ExchangeApp/3.1 (iPhone; iOS 17.1)",
    )
    assert response.status_code == 200, response.content
    return response.json()


def bearer(tokens: dict) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client


def register(tokens: dict, *, token: str, platform: str = "fcm", name: str = "Pixel 8"):
    return bearer(tokens).post(
        "/api/v1/devices/mobile",
        {"platform": platform, "token": token, "name": name},
        format="json",
    )


def google_oauth(mock, service_account_key) -> None:
    """Google's token endpoint: a JWT-bearer grant signed by the service
    account's key, for the FCM scope."""

    def handler(request):
        body = (
            request.body.decode() if isinstance(request.body, bytes) else request.body
        )
        form = {k: v[0] for k, v in parse_qs(body).items()}
        assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
        claims = pyjwt.decode(
            form["assertion"],
            service_account_key.public_key(),
            algorithms=["RS256"],
            audience=GOOGLE_TOKEN_URL,
        )
        assert claims["iss"] == f"push@{FCM_PROJECT}.iam.gserviceaccount.com"
        # cloud-platform covers FCM's messages:send
        assert (
            "https://www.googleapis.com/auth/cloud-platform" in claims["scope"].split()
        )
        body = {
            "access_token": ACCESS_TOKEN,
            "expires_in": 3600,
            "token_type": "Bearer",
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(body)

    mock.add_callback(responses.POST, GOOGLE_TOKEN_URL, callback=handler)


def fcm_service(mock, answers: dict[str, tuple[int, dict]] | None = None) -> list[dict]:
    """FCM's messages:send: checks the OAuth bearer and the v1 message JSON;
    answers per token from `answers` (default: accepted)."""
    sent: list[dict] = []

    def handler(request):
        assert request.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        message = json.loads(request.body)["message"]
        assert message["token"]
        sent.append(message)
        status, body = (answers or {}).get(
            message["token"],
            (200, {"name": f"projects/{FCM_PROJECT}/messages/0:{len(sent)}"}),
        )
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    mock.add_callback(responses.POST, FCM_SEND_URL, callback=handler)
    return sent


def fcm_error(status: int, grpc: str, fcm_code: str | None = None, message: str = "x"):
    details = (
        [
            {
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": fcm_code,
            }
        ]
        if fcm_code
        else []
    )
    return status, {
        "error": {
            "code": status,
            "message": message,
            "status": grpc,
            "details": details,
        }
    }


@pytest.fixture
def user(db):
    return make_user(email="mobile-owner@example.com")


def test_registering_and_sending_through_fcm_v1(user, fcm):
    tokens = api_login(user)
    android = register(tokens, token="fcm-token-android-1")
    assert android.status_code == 201, android.content
    assert android.json()["current"] is True
    other_tokens = api_login(user)
    iphone = register(
        other_tokens, token="fcm-token-ios-1", platform="apns", name="iPhone"
    )
    assert iphone.status_code == 201

    with responses.RequestsMock() as mock:
        google_oauth(mock, fcm)
        sent = fcm_service(mock)
        reference = senders.send_mobile(message_for(user, data={"order": "77"}))

    by_token = {message["token"]: message for message in sent}
    assert set(by_token) == {"fcm-token-android-1", "fcm-token-ios-1"}
    android_message = by_token["fcm-token-android-1"]
    assert android_message["notification"] == {
        "title": "Withdrawal sent",
        "body": "0.5 BTC left for bc1q…wlh.",
    }
    assert android_message["data"] == {
        "order": "77",
        "url": "https://exchange.example/wallet/withdrawals/9",
        "event_type": "withdrawal_sent",
    }
    assert android_message["android"]["collapse_key"] == "withdrawal_sent-41"
    assert android_message["android"]["priority"] == "high"
    assert "apns" not in android_message
    ios_message = by_token["fcm-token-ios-1"]
    assert ios_message["apns"]["headers"]["apns-collapse-id"] == "withdrawal_sent-41"
    assert ios_message["apns"]["payload"]["aps"]["sound"] == "default"
    assert "android" not in ios_message
    assert reference.startswith("sent to 2 devices: projects/exchange-test/messages/0:")
    assert MobileDevice.objects.filter(last_sent_at__isnull=False).count() == 2


def test_one_row_per_device(user):
    tokens = api_login(user)
    assert register(tokens, token="token-a").status_code == 201
    # the same token again: the same row
    again = register(tokens, token="token-a", name="Renamed")
    assert again.status_code == 200
    # the app's token rotated: the sign-in's row takes the new one
    rotated = register(tokens, token="token-b")
    assert rotated.status_code == 200
    assert list(MobileDevice.objects.values_list("token", flat=True)) == ["token-b"]
    # the device is signed in to another account now: the token moves
    other = make_user(email="second-owner@example.com")
    moved = register(api_login(other), token="token-b")
    assert moved.status_code == 200
    assert list(MobileDevice.objects.values_list("user_id", flat=True)) == [other.pk]


def test_logout_removes_the_devices_token_and_only_its(user):
    phone, tablet = api_login(user), api_login(user)
    register(phone, token="phone-token")
    register(tablet, token="tablet-token")

    logout = bearer(phone).post(
        "/api/v1/auth/logout", {"refresh": phone["refresh"]}, format="json"
    )

    assert logout.status_code == 204
    assert list(MobileDevice.objects.values_list("token", flat=True)) == [
        "tablet-token"
    ]


def test_a_password_change_removes_every_devices_token(user):
    tokens = api_login(user)
    register(tokens, token="phone-token")
    register(api_login(user), token="tablet-token")

    changed = bearer(tokens).post(
        "/api/v1/auth/password",
        {"old_password": PASSWORD, "new_password": "another-horse-battery-77"},
        format="json",
    )

    assert changed.status_code in (200, 204), changed.content
    assert not MobileDevice.objects.exists()


def test_ending_a_sign_in_from_the_list_removes_its_token(user):
    tokens, other = api_login(user), api_login(user)
    register(other, token="other-token")
    sessions = bearer(tokens).get("/api/v1/me/sessions").json()
    target = next(s["id"] for s in sessions if not s["current"])

    assert bearer(tokens).delete(f"/api/v1/me/sessions/{target}").status_code == 204
    assert not MobileDevice.objects.exists()


@pytest.mark.parametrize(
    "answer",
    [
        fcm_error(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found."),
        fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "SenderId mismatch"),
        fcm_error(
            400,
            "INVALID_ARGUMENT",
            "INVALID_ARGUMENT",
            "The registration token is not a valid FCM registration token",
        ),
    ],
)
def test_a_dead_token_is_deleted(user, fcm, answer):
    tokens = api_login(user)
    register(tokens, token="dead-token")
    register(api_login(user), token="live-token")

    with responses.RequestsMock() as mock:
        google_oauth(mock, fcm)
        sent = fcm_service(mock, {"dead-token": answer})
        reference = senders.send_mobile(message_for(user))

    assert len(sent) == 2
    assert "1 removed as dead" in reference
    assert list(MobileDevice.objects.values_list("token", flat=True)) == ["live-token"]


@pytest.mark.parametrize(
    ("answer", "permanent"),
    [
        (fcm_error(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), False),
        (fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "bad ttl"), True),
        (fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"), True),
    ],
)
def test_fcm_errors_are_retryable_or_permanent(user, fcm, answer, permanent):
    register(api_login(user), token="a-token")
    with responses.RequestsMock() as mock:
        google_oauth(mock, fcm)
        fcm_service(mock, {"a-token": answer})
        with pytest.raises(ProviderError) as refused:
            senders.send_mobile(message_for(user))
    assert refused.value.permanent is permanent
    assert MobileDevice.objects.count() == 1


def test_no_registered_device_is_no_target(user, fcm):
    with pytest.raises(NoTarget):
        senders.send_mobile(message_for(user))


def test_list_and_remove(user):
    tokens = api_login(user)
    register(tokens, token="mine", name="Pixel 8")
    client = bearer(tokens)
    listed = client.get("/api/v1/devices/mobile").json()
    assert [(d["platform"], d["name"], d["current"]) for d in listed] == [
        ("fcm", "Pixel 8", True)
    ]
    assert "token" not in listed[0]
    other = make_user(email="stranger@example.com")
    stranger = bearer(api_login(other)).delete(
        f"/api/v1/devices/mobile/{listed[0]['id']}"
    )
    assert stranger.status_code == 404
    assert stranger.json()["error"]["code"] == "mobile_device_not_found"
    assert client.delete(f"/api/v1/devices/mobile/{listed[0]['id']}").status_code == 204
    assert not MobileDevice.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"platform": "windows", "token": "t"}, "platform"),
        ({"platform": "fcm", "token": "has space"}, "token"),
        ({"platform": "fcm", "token": "x" * 513}, "token"),
        ({"platform": "fcm"}, "token"),
    ],
)
def test_bad_registrations_are_400s_naming_the_field(user, body, field):
    response = bearer(api_login(user)).post(
        "/api/v1/devices/mobile", body, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()["error"]["details"]
