"""SMS through Twilio's SDK, against a fake of Twilio's Messages API at the HTTP
layer (responses): what Twilio requires, and how its answers map."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

import pytest
import requests
import responses

from devices import providers, senders
from devices.models import PhoneNumber
from devices.tests.conftest import (
    TWILIO_FROM,
    TWILIO_MESSAGES_URL,
    TWILIO_SID,
    TWILIO_TOKEN,
)
from notifications.channels import NoTarget, OutgoingMessage, ProviderError

pytestmark = pytest.mark.django_db


def message_for(user, **overrides) -> OutgoingMessage:
    fields = {
        "delivery_id": 41,
        "user_id": user.pk,
        "event_type": "withdrawal_sent",
        "title": "Withdrawal sent",
        "body": "0.5 BTC left for bc1q…wlh.",
        "url": "https://exchange.example/wallet/withdrawals/9",
        "security": False,
    }
    fields.update(overrides)
    return OutgoingMessage(**fields)


def twilio_fake(requests_mock, *, status=201, json=None) -> list[dict]:
    """Twilio's Messages endpoint: checks Basic auth with the account SID and
    the form fields it requires; records each accepted message."""
    seen: list[dict] = []

    def handler(request):
        scheme, _, credentials = request.headers["Authorization"].partition(" ")
        assert scheme == "Basic"
        assert base64.b64decode(credentials).decode() == f"{TWILIO_SID}:{TWILIO_TOKEN}"
        assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        assert set(form) >= {"To", "Body"}
        assert "From" in form or "MessagingServiceSid" in form
        seen.append(form)
        body = json or {
            "sid": f"SM{len(seen):032d}",
            "account_sid": TWILIO_SID,
            "to": form["To"],
            "status": "queued",
        }
        import json as _json

        return status, {"Content-Type": "application/json"}, _json.dumps(body)

    requests_mock.add_callback(responses.POST, TWILIO_MESSAGES_URL, callback=handler)
    return seen


def verify(user, number: str) -> None:
    user.phone = number
    user.save(update_fields=["phone"])
    PhoneNumber.objects.create(user=user, number=number)


@responses.activate
def test_sms_goes_to_the_verified_number_with_title_body_and_link(user, twilio):
    verify(user, "+447700900123")
    seen = twilio_fake(responses)

    reference = senders.send_sms(message_for(user))

    assert reference == "SM" + "1".zfill(32)
    assert seen == [
        {
            "To": "+447700900123",
            "From": TWILIO_FROM,
            "Body": "Withdrawal sent\n0.5 BTC left for bc1q…wlh.\n"
            "https://exchange.example/wallet/withdrawals/9",
        }
    ]


@responses.activate
def test_a_messaging_service_replaces_the_from_number(user, twilio):
    twilio.TWILIO_FROM_NUMBER = ""
    twilio.TWILIO_MESSAGING_SERVICE_SID = "MG" + "a" * 32
    verify(user, "+447700900123")
    seen = twilio_fake(responses)

    senders.send_sms(message_for(user))

    assert seen[0]["MessagingServiceSid"] == "MG" + "a" * 32
    assert "From" not in seen[0]


def test_no_verified_number_is_no_target(user, twilio):
    user.phone = "+447700900123"  # typed in the profile, never verified
    user.save(update_fields=["phone"])
    with pytest.raises(NoTarget):
        senders.send_sms(message_for(user))


def test_a_verified_number_that_is_no_longer_the_profiles_is_no_target(user, twilio):
    verify(user, "+447700900123")
    user.phone = "+447700900999"
    user.save(update_fields=["phone"])
    with pytest.raises(NoTarget):
        senders.send_sms(message_for(user))


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        (400, 21211, True),  # invalid 'To' number
        (400, 21614, True),  # not a mobile number
        (400, 21610, True),  # the recipient replied STOP
        (401, 20003, True),  # our credentials are wrong: a retry cannot help
        (429, 20429, False),  # too many requests
        (500, 20500, False),
        (503, 20503, False),
    ],
)
@responses.activate
def test_twilio_errors_map_to_permanent_or_retryable(
    user, twilio, status, code, permanent
):
    verify(user, "+447700900123")
    twilio_fake(
        responses,
        status=status,
        json={"code": code, "message": "refused", "more_info": "", "status": status},
    )

    with pytest.raises(ProviderError) as refused:
        senders.send_sms(message_for(user))

    assert refused.value.permanent is permanent
    assert f"code {code}" in refused.value.answer


@responses.activate
def test_twilio_unreachable_is_retryable(user, twilio):
    verify(user, "+447700900123")
    responses.add(
        responses.POST,
        TWILIO_MESSAGES_URL,
        body=requests.exceptions.ConnectionError("connection refused"),
    )
    with pytest.raises(ProviderError) as refused:
        senders.send_sms(message_for(user))
    assert refused.value.permanent is False


def test_sms_not_configured_is_a_permanent_error(user, settings):
    settings.TWILIO_ACCOUNT_SID = ""
    verify(user, "+447700900123")
    with pytest.raises(ProviderError) as refused:
        senders.send_sms(message_for(user))
    assert refused.value.permanent is True
    assert providers.sms_configured() is False


def test_a_long_message_keeps_its_link_within_three_segments(user):
    text = senders.sms_text(message_for(user, body="x" * 1000))
    assert len(text) == senders.SMS_MAX_CHARS
    assert text.endswith("…\nhttps://exchange.example/wallet/withdrawals/9")


def test_the_senders_are_registered_for_their_channels():
    from notifications import channels

    assert channels.sender_for("sms") is senders.send_sms
    assert channels.sender_for("webpush") is senders.send_webpush
    assert channels.sender_for("mobile") is senders.send_mobile
