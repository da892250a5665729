"""The phone number's verification: a code by SMS (Twilio faked at the HTTP
layer), stored hashed, expiring, locked after wrong tries, rate-limited; the
re-verification a change calls for, and the security notice."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import responses
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.events import SecurityNotice
from accounts.models import AuditCode, AuditEvent
from accounts.roles import Role
from accounts.services.staff import user_profile_update_by_staff
from accounts.testing import api_client_for, make_user
from config import events
from devices import senders, services
from devices.models import PhoneChallenge, PhoneNumber
from devices.selectors import verified_phone
from devices.tests.conftest import TWILIO_MESSAGES_URL
from devices.tests.test_sms import message_for, twilio_fake
from notifications.channels import NoTarget

pytestmark = pytest.mark.django_db


@pytest.fixture
def sms(twilio):
    with responses.RequestsMock() as mock:
        yield twilio_fake(mock)


@pytest.fixture
def notices():
    """The SecurityNotice events recorded (and committed with their cause)."""
    seen: list[SecurityNotice] = []
    events.subscribe(SecurityNotice, seen.append, moment=events.IN_TRANSACTION)
    yield seen
    events.unsubscribe(SecurityNotice, seen.append, moment=events.IN_TRANSACTION)


def code_in(sms_form: dict) -> str:
    match = re.match(r"^(\d{6}) is your Exchange verification code", sms_form["Body"])
    assert match, sms_form["Body"]
    return match.group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_code_by_sms_verifies_the_number(user, sms, notices):
    client = api_client_for(user)

    sent = client.post("/api/v1/devices/phone/code", {"number": "+44 7700 900123"})

    assert sent.status_code == 201, sent.content
    assert sent.json()["number"] == "+447700900123"
    assert [form["To"] for form in sms] == ["+447700900123"]
    code = code_in(sms[0])
    challenge = PhoneChallenge.objects.get()
    assert code not in challenge.code_hash and len(challenge.code_hash) == 64
    assert challenge.provider_ref == "SM" + "1".zfill(32)

    confirmed = client.post("/api/v1/devices/phone/verify", {"code": code})

    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["verified_number"] == "+447700900123"
    assert confirmed.json()["pending"] is None
    user.refresh_from_db()
    assert user.phone == "+447700900123"
    assert verified_phone(user=user).number == "+447700900123"
    event = AuditEvent.objects.filter(user=user, code=AuditCode.PROFILE_UPDATED).get()
    assert event.extra["phone_verified"] == "+447700900123"
    assert notices == []  # a first number changes nothing anyone relied on
    # the code works once
    again = client.post("/api/v1/devices/phone/verify", {"code": code})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "phone_no_pending_code"


def test_a_wrong_code_counts_and_five_lock_it(user, sms):
    services.phone_code_send(user=user, number="+447700900123")
    code = code_in(sms[0])
    client = api_client_for(user)

    first = client.post("/api/v1/devices/phone/verify", {"code": wrong(code)})
    assert first.status_code == 422
    assert first.json()["error"]["code"] == "phone_code_wrong"
    assert first.json()["error"]["details"]["attempts_left"] == 4
    for _ in range(3):
        client.post("/api/v1/devices/phone/verify", {"code": wrong(code)})
    fifth = client.post("/api/v1/devices/phone/verify", {"code": wrong(code)})
    assert fifth.status_code == 429
    assert fifth.json()["error"]["code"] == "phone_code_locked"

    # the right code no longer helps: only a new code does
    right = client.post("/api/v1/devices/phone/verify", {"code": code})
    assert right.status_code == 429
    assert right.json()["error"]["code"] == "phone_code_locked"
    assert PhoneChallenge.objects.get().failed_attempts == 5
    assert not PhoneNumber.objects.filter(user=user).exists()


def test_a_code_expires_after_ten_minutes(user, sms):
    services.phone_code_send(user=user, number="+447700900123")
    code = code_in(sms[0])

    with time_machine.travel(timezone.now() + timedelta(minutes=10, seconds=1)):
        response = api_client_for(user).post(
            "/api/v1/devices/phone/verify", {"code": code}
        )

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "phone_code_expired"
    assert response.json()["error"]["details"]["code"]


def test_a_new_code_replaces_the_previous_one(user, sms):
    services.phone_code_send(user=user, number="+447700900123")
    first = code_in(sms[0])
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        services.phone_code_send(user=user, number="+447700900123")
        second = code_in(sms[1])
        client = api_client_for(user)
        if first != second:
            stale = client.post("/api/v1/devices/phone/verify", {"code": first})
            assert stale.json()["error"]["code"] == "phone_code_wrong"
        fresh = client.post("/api/v1/devices/phone/verify", {"code": second})
    assert fresh.status_code == 200


def test_sends_are_rate_limited_per_user_and_per_number(user, sms, settings):
    client = api_client_for(user)
    assert (
        client.post(
            "/api/v1/devices/phone/code", {"number": "+447700900123"}
        ).status_code
        == 201
    )

    again = client.post("/api/v1/devices/phone/code", {"number": "+447700900123"})
    assert again.status_code == 429
    assert again.json()["error"]["code"] == "phone_code_rate_limited"
    assert 1 <= int(again["Retry-After"]) <= 60

    start = timezone.now()
    for minute in (2, 4, 6, 8):  # five in the hour in all
        with time_machine.travel(start + timedelta(minutes=minute)):
            services.phone_code_send(user=user, number="+447700900123")
    with time_machine.travel(start + timedelta(minutes=10)):
        # (a new client: the first one's access token ran out meanwhile)
        sixth = api_client_for(user).post(
            "/api/v1/devices/phone/code", {"number": "+447700900124"}
        )
    assert sixth.status_code == 429
    assert 2900 < int(sixth["Retry-After"]) <= 3000  # the first send leaves the hour
    # another account cannot pump the same number either
    other = make_user(email="pump@example.com", roles=(Role.TRADER,))
    with time_machine.travel(start + timedelta(minutes=10)):
        pumped = api_client_for(other).post(
            "/api/v1/devices/phone/code", {"number": "+447700900123"}
        )
    assert pumped.status_code == 429
    assert len(sms) == 5


def test_a_number_not_in_e164_is_a_400_naming_the_field(user, twilio):
    response = api_client_for(user).post(
        "/api/v1/devices/phone/code", {"number": "0770 0900"}
    )
    assert response.status_code == 400
    body = response.json()["error"]
    assert body["code"] == "phone_invalid"
    assert "number" in body["details"]


def test_the_provider_refusing_the_number_is_a_422(user, twilio):
    with responses.RequestsMock() as mock:
        twilio_fake(
            mock,
            status=400,
            json={
                "code": 21614,
                "message": "not a mobile",
                "more_info": "",
                "status": 400,
            },
        )
        response = api_client_for(user).post(
            "/api/v1/devices/phone/code", {"number": "+442079460000"}
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "sms_refused"
    assert PhoneChallenge.objects.get().closed_at is not None


def test_a_provider_outage_is_a_503(user, twilio):
    with responses.RequestsMock() as mock:
        mock.add(
            responses.POST,
            TWILIO_MESSAGES_URL,
            status=503,
            json={"code": 20503, "message": "down", "status": 503},
        )
        response = api_client_for(user).post(
            "/api/v1/devices/phone/code", {"number": "+447700900123"}
        )
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "sms_unavailable"


def test_sms_not_configured_is_a_503_and_sends_nothing(user, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    response = api_client_for(user).post(
        "/api/v1/devices/phone/code", {"number": "+447700900123"}
    )
    assert response.status_code == 503
    assert not PhoneChallenge.objects.exists()


def verify_number(user, sms, number: str) -> None:
    PhoneChallenge.objects.filter(user=user).update(
        created_at=timezone.now() - timedelta(hours=2)
    )
    services.phone_code_send(user=user, number=number)
    services.phone_code_confirm(user=user, code=code_in(sms[-1]))


def test_changing_a_verified_number_needs_a_new_code_and_tells_the_user(
    user, sms, notices, settings
):
    settings.DEVICES_PHONE_CODE_RESEND_SECONDS = 0
    verify_number(user, sms, "+447700900123")
    services.phone_code_send(user=user, number="+447700900555")  # not yet confirmed
    user.refresh_from_db()
    assert verified_phone(user=user).number == "+447700900123"

    services.phone_code_confirm(user=user, code=code_in(sms[-1]))

    user.refresh_from_db()
    assert user.phone == "+447700900555"
    assert verified_phone(user=user).number == "+447700900555"
    assert [(n.kind, n.user_id) for n in notices] == [("phone_changed", user.pk)]
    assert dict(notices[0].detail)["phone"] == "+44••••••0123 → +44••••••0555"


def test_a_staff_change_of_the_number_drops_the_verification(user, sms):
    verify_number(user, sms, "+447700900123")
    staff = make_user(email="operator@example.com", roles=(Role.OPERATOR,))

    user_profile_update_by_staff(
        user=user, staff=staff, reason="Customer called", phone="+447700900999"
    )

    user.refresh_from_db()
    assert verified_phone(user=user) is None
    with pytest.raises(NoTarget):
        senders.send_sms(message_for(user))
    state = api_client_for(user).get("/api/v1/devices/phone").json()
    assert state["number"] == "+447700900999"
    assert state["verified_number"] is None

    # set back to the verified number: still dropped, a new code is needed
    user_profile_update_by_staff(
        user=user, staff=staff, reason="Customer called again", phone="+447700900123"
    )
    user.refresh_from_db()
    assert user.phone == "+447700900123"
    assert verified_phone(user=user) is None
    with pytest.raises(NoTarget):
        senders.send_sms(message_for(user))


def test_the_users_own_profile_change_drops_the_verification(user, sms):
    from accounts.services import user_profile_update

    verify_number(user, sms, "+447700900123")
    user_profile_update(user=user, phone="+447700900777")
    user_profile_update(user=user, phone="+447700900123")

    user.refresh_from_db()
    assert verified_phone(user=user) is None
    # a name change is no phone change
    other = make_user(email="renamed@example.com")
    verify_number(other, sms, "+447700900888")
    user_profile_update(user=other, full_name="Renamed Person")
    assert verified_phone(user=other).number == "+447700900888"


def test_removing_the_verified_number_stops_sms_and_tells_the_user(user, sms, notices):
    verify_number(user, sms, "+447700900123")

    response = api_client_for(user).delete("/api/v1/devices/phone")

    assert response.status_code == 204
    assert not PhoneNumber.objects.filter(user=user).exists()
    with pytest.raises(NoTarget):
        senders.send_sms(message_for(user))
    assert [n.kind for n in notices] == ["phone_changed"]
    again = api_client_for(user).delete("/api/v1/devices/phone")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "phone_not_found"


def test_the_phone_api_needs_a_sign_in():
    response = APIClient().get("/api/v1/devices/phone")
    assert response.status_code == 401
